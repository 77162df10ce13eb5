"""Test support code: fakes and emulators shared by the test suite."""
