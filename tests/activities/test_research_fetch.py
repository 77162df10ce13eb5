"""The research worker against a real web server on 127.0.0.1: the public web only (every hop
checked, the connection made to the checked address), the setting that lifts it, bad URLs that
are named instead of failing the job, and a research that read nothing."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.research import ResearchActivities
from activities.research_fetch import AddressGuard, IPAddress, fetch_public, research_client
from core.domain.jobs.models import StepInput, StepOutput
from tests.support.stack import make_settings
from tests.support.web_pages import SECRET, LocalWeb

PUBLIC_NAME = "news.example.test"  # a public-looking name; only the test's guard resolves it


@pytest.fixture
async def web() -> AsyncIterator[LocalWeb]:
    async with LocalWeb() as server:
        yield server


class PretendPublic(AddressGuard):
    """The real guard, except that one port on 127.0.0.1 stands in for a public web server
    (reachable as PUBLIC_NAME too): everything else is classified for real."""

    def __init__(self, public_port: int) -> None:
        super().__init__(allow_private=False)
        self.public_port = public_port
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host == PUBLIC_NAME:
            return await super().resolve("127.0.0.1", port)
        return await super().resolve(host, port)

    def refusal(self, address: IPAddress, port: int) -> str | None:
        if address.is_loopback and port == self.public_port:
            return None
        return super().refusal(address, port)


async def research(
    tmp_path: Path, goal: str, *, allow: bool = False, guard: AddressGuard | None = None
) -> tuple[StepOutput, str, dict[str, object]]:
    settings = make_settings(
        tmp_path, "127.0.0.1:1", RESEARCH_ALLOW_PRIVATE_NETWORKS=str(allow).lower()
    )
    folder = f"job-{uuid.uuid4().hex[:8]}"
    step = StepInput(job_id=folder, step_index=0, worker="research", goal=goal, workspace=folder)
    output = await ActivityEnvironment().run(ResearchActivities(settings, guard).gather, step)
    workspace = settings.workspaces_dir / folder
    notes = json.loads((workspace / "notes.json").read_text())
    return output, (workspace / "notes.md").read_text(), notes


def _sources(notes: dict[str, object]) -> dict[str, dict[str, object]]:
    sources = notes["sources"]
    assert isinstance(sources, list)
    return {str(s["ref"]): s for s in sources}


def inside_urls(web: LocalWeb) -> dict[str, str]:
    """The ways of writing "this machine" that research must refuse, with the reason."""
    return {
        web.url("/secret"): "127.0.0.1 is a loopback address",
        web.url("/secret", "localhost"): "localhost (",
        web.url("/secret", "2130706433"): "2130706433 (127.0.0.1) is a loopback address",
        web.url("/secret", "0.0.0.0"): "0.0.0.0 is an unspecified address",
        web.url("/secret", "0x7f.1"): "0x7f.1 (127.0.0.1) is a loopback address",
        web.url("/secret", "[::1]"): "::1 is a loopback address",
        "http://169.254.169.254/latest/meta-data/": "link-local address (cloud metadata)",
    }


async def test_addresses_inside_are_refused_and_named_in_the_notes(
    web: LocalWeb, tmp_path: Path
) -> None:
    urls = inside_urls(web)
    output, markdown, notes = await research(tmp_path, "summarize " + " ".join(urls))

    assert web.hits == []  # nothing reached the server
    sources = _sources(notes)
    for url, reason in urls.items():
        source = sources[url]
        assert source["ok"] is False
        assert str(source["detail"]).startswith("refused: ") and reason in str(source["detail"])
        assert "RESEARCH_ALLOW_PRIVATE_NETWORKS=true" in str(source["detail"])
        assert f"`{url}` — refused: " in markdown  # the notes name the URL and why
    assert SECRET not in markdown
    assert output.warning.startswith("Nothing was read")


async def test_with_the_setting_the_local_server_is_fetched(web: LocalWeb, tmp_path: Path) -> None:
    reachable = [
        web.url("/secret"),
        web.url("/secret", "localhost"),
        web.url("/secret", "2130706433"),
        web.url("/secret", "0.0.0.0"),
    ]
    output, markdown, notes = await research(tmp_path, " ".join(reachable), allow=True)

    assert len(web.hits_on("/secret")) == len(reachable)
    sources = _sources(notes)
    for url in reachable:
        assert sources[url]["ok"] is True, sources[url]
        assert SECRET in str(sources[url]["excerpt"])
    assert output.warning == ""
    assert "refused" not in markdown


async def test_a_redirect_to_loopback_is_refused(web: LocalWeb, tmp_path: Path) -> None:
    async with LocalWeb() as internal:  # another port: the guard treats only `web` as public
        guard = PretendPublic(web.port)
        inside = internal.url("/secret", "localhost")
        start = web.url(f"/redirect?to={inside}", PUBLIC_NAME)
        output, markdown, notes = await research(tmp_path, f"what does {start} say", guard=guard)
        assert internal.hits == []

    assert [hit.path for hit in web.hits] == ["/redirect"]  # the public hop was fetched
    detail = str(_sources(notes)[start]["detail"])
    assert detail.startswith(f"refused: redirected to {inside}, and localhost (")
    assert "loopback address" in detail
    assert SECRET not in markdown
    assert output.warning != ""


async def test_a_redirect_to_loopback_is_followed_with_the_setting(
    web: LocalWeb, tmp_path: Path
) -> None:
    inside = web.url("/secret")
    start = web.url(f"/redirect?to={inside}")
    output, _, notes = await research(tmp_path, start, allow=True)

    assert [hit.path for hit in web.hits] == ["/redirect", "/secret"]
    source = _sources(notes)[start]
    assert source["ok"] is True and SECRET in str(source["excerpt"])
    assert f"redirected to {inside}" in str(source["detail"])
    assert output.warning == ""


async def test_the_checked_address_is_the_one_connected_to(web: LocalWeb, tmp_path: Path) -> None:
    """No second DNS lookup: the name resolves once per hop (only the test's guard knows it),
    the connection goes to that address, and the server still sees the name in `Host`."""
    guard = PretendPublic(web.port)
    url = web.url("/page", PUBLIC_NAME)
    output, _, notes = await research(tmp_path, f"read {url}", guard=guard)

    assert _sources(notes)[url]["ok"] is True, _sources(notes)[url]
    assert guard.lookups == [PUBLIC_NAME]
    assert [(hit.path, hit.host) for hit in web.hits] == [("/page", f"{PUBLIC_NAME}:{web.port}")]
    assert output.warning == ""


async def test_redirects_are_limited(web: LocalWeb, tmp_path: Path) -> None:
    guard = PretendPublic(web.port)
    url = web.url("/loop/0", PUBLIC_NAME)
    _, _, notes = await research(tmp_path, url, guard=guard)

    assert _sources(notes)[url]["detail"] == "refused: more than 5 redirects"
    assert len(web.hits) == 6  # the first request and five redirects


async def test_ipv6_and_bad_urls_are_named_and_the_rest_goes_on(
    web: LocalWeb, tmp_path: Path
) -> None:
    ipv6 = f"http://[::1]:{web.port}/x"
    bad_port = "http://127.0.0.1:99999/x"
    bad_name = "http://xn--/x"
    good = web.url("/page")
    output, markdown, notes = await research(
        tmp_path, f"compare {ipv6} {bad_port} {bad_name} and {good}", allow=True
    )

    sources = _sources(notes)
    assert sources[good]["ok"] is True
    assert sources[ipv6]["ok"] is False  # nothing listens on ::1 here; it is named, not fatal
    assert str(sources[ipv6]["detail"]).startswith("could not fetch")
    assert sources[bad_port]["detail"] == "not fetched: invalid URL (port 99999 is out of range)"
    assert str(sources[bad_name]["detail"]).startswith("not fetched: invalid URL")
    assert f"`{bad_port}` — not fetched" in markdown
    assert "read 1 of 4 source(s)" in output.summary
    assert output.warning == ""


async def test_a_research_that_found_nothing_warns(tmp_path: Path) -> None:
    output, markdown, _ = await research(tmp_path, "summarize notes.txt")

    assert "no file 'notes.txt'" in markdown
    assert output.warning.startswith("Nothing was read — notes.txt: ")
    assert "no file 'notes.txt'" in output.warning


async def test_a_goal_naming_nothing_warns_without_an_llm(tmp_path: Path) -> None:
    output, _, _ = await research(tmp_path, "the history of the GIL")
    assert "names no workspace file and no URL" in output.warning


async def test_a_research_that_read_a_file_does_not_warn(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "127.0.0.1:1")
    folder = "job-reads-a-file"
    (settings.workspaces_dir / folder).mkdir(parents=True)
    (settings.workspaces_dir / folder / "notes.txt").write_text("disk at 91%\n")
    step = StepInput(
        job_id=folder, step_index=0, worker="research", goal="summarize notes.txt", workspace=folder
    )
    output = await ActivityEnvironment().run(ResearchActivities(settings).gather, step)
    assert output.warning == ""
    assert "read 1 of 1 source(s)" in output.summary


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for PUBLIC_NAME only (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={PUBLIC_NAME}"),
            *("-addext", f"subjectAltName=DNS:{PUBLIC_NAME}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_to_the_checked_address_still_verifies_the_name(
    certificate: tuple[Path, Path],
) -> None:
    """Connecting to the checked address keeps TLS honest: the server gets the name (SNI) and
    its certificate is verified against the name, not the address."""
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))

    class AlsoOtherName(PretendPublic):
        async def resolve(self, host: str, port: int) -> list[IPAddress]:
            name = PUBLIC_NAME if host == "other.example.test" else host
            return await super().resolve(name, port)

    async with LocalWeb(ssl_context=server_tls) as web:
        guard = AlsoOtherName(web.port)
        async with research_client(5.0, verify=trust) as client:
            fetched = await fetch_public(
                client, guard, web.url("/page", PUBLIC_NAME), max_bytes=1000
            )
            assert fetched.status == 200 and b"kittens" in fetched.body
            assert [(h.path, h.host) for h in web.hits] == [("/page", f"{PUBLIC_NAME}:{web.port}")]

            # The same address under a name the certificate does not carry: refused by TLS.
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await fetch_public(
                    client, guard, web.url("/page", "other.example.test"), max_bytes=1000
                )
            assert len(web.hits) == 1
