import httpx

from tack.core.migrations import head_revision


async def test_healthz_and_readyz(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/healthz")).json()["status"] == "ok"
        ready = await c.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["migrations"] == head_revision()


async def test_openapi_describes_errors_with_the_envelope(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        spec = (await c.get("/api/v1/openapi.json")).json()
    op = spec["paths"]["/api/v1/auth/sign-in"]["post"]
    assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorEnvelope")
    assert "HTTPValidationError" not in spec["components"]["schemas"]
