"""A tiny web server on 127.0.0.1 for research tests: a page that must stay private, redirects,
and a record of every request it answered (so a test can prove nothing reached it)."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from aiohttp import web

SECRET = "SECRET-internal-page-7f3a"


@dataclass
class Hit:
    path: str
    host: str


@dataclass
class LocalWeb:
    """`/secret` answers a page holding SECRET; `/redirect?to=<url>` answers 302 to that URL;
    `/loop/<n>` redirects to `/loop/<n+1>` for ever; `/page` answers a public-looking page;
    `/slow?seconds=<s>` answers that page after `s` seconds."""

    ssl_context: ssl.SSLContext | None = None  # set: the server speaks HTTPS
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def hits_on(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    async def __aenter__(self) -> LocalWeb:
        app = web.Application()
        app.router.add_get("/secret", self._secret)
        app.router.add_get("/page", self._page)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/loop/{n}", self._loop)
        app.router.add_get("/slow", self._slow)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _record(self, request: web.Request) -> None:
        self.hits.append(Hit(path=request.path, host=request.headers.get("Host", "")))

    async def _secret(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(
            text=f"<title>Internal</title><p>{SECRET}</p>", content_type="text/html"
        )

    async def _page(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(text="a public page about kittens", content_type="text/plain")

    async def _slow(self, request: web.Request) -> web.Response:
        self._record(request)
        await asyncio.sleep(float(request.query.get("seconds", "5")))
        return web.Response(text="a slow page about kittens", content_type="text/plain")

    async def _redirect(self, request: web.Request) -> web.Response:
        self._record(request)
        raise web.HTTPFound(request.query["to"])

    async def _loop(self, request: web.Request) -> web.Response:
        self._record(request)
        raise web.HTTPFound(f"/loop/{int(request.match_info['n']) + 1}")
