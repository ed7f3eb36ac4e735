from __future__ import annotations

import httpx

from tests.factories import PASSWORD, check, sign_in, sign_up, unique


async def test_sign_up_sets_session_and_me_works(client):
    info = await sign_up(client, name="Ada")
    assert info["account"]["name"] == "Ada"
    assert info["csrf_token"]
    me = check(await client.get("/me"), 200)
    assert me["id"] == info["account"]["id"]


async def test_session_cookie_is_httponly_and_samesite(new_client):
    client = new_client()
    response = await client.post(
        "/auth/sign-up", json={"name": "Bo", "email": f"{unique('b')}@example.com", "password": PASSWORD}
    )
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("tack_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


async def test_duplicate_email_is_a_conflict(new_client):
    email = f"{unique('dup')}@example.com"
    await sign_up(new_client(), email=email)
    response = await new_client().post("/auth/sign-up", json={"name": "X", "email": email, "password": PASSWORD})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "account_exists"


async def test_sign_up_needs_email_or_mobile(client):
    response = await client.post("/auth/sign-up", json={"name": "X", "password": PASSWORD})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_sign_in_with_mobile(new_client):
    mobile = "138" + str(uuid_digits())
    await sign_up(new_client(), email=None, mobile=mobile)
    info = await sign_in(new_client(), mobile)
    assert info["account"]["mobile"] == mobile


def uuid_digits() -> str:
    import random

    return "".join(random.choice("0123456789") for _ in range(8))


async def test_wrong_password_is_401_with_code(new_client):
    email = f"{unique('w')}@example.com"
    await sign_up(new_client(), email=email)
    response = await new_client().post("/auth/sign-in", json={"login": email, "password": "not it at all"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_failed_sign_ins_are_throttled_per_account(new_client):
    email = f"{unique('t')}@example.com"
    await sign_up(new_client(), email=email)
    client = new_client(address="10.9.0.1")
    for _ in range(5):
        assert (await client.post("/auth/sign-in", json={"login": email, "password": "wrong-wrong"})).status_code == 401
    response = await new_client(address="10.9.0.2").post("/auth/sign-in", json={"login": email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "sign_in_throttled"
    assert int(response.headers["Retry-After"]) > 0


async def test_failed_sign_ins_are_throttled_per_address(new_client):
    client = new_client(address="10.9.1.1")
    for i in range(30):
        r = await client.post("/auth/sign-in", json={"login": f"nobody{i}@example.com", "password": "wrong-wrong"})
        assert r.status_code == 401
    r = await client.post("/auth/sign-in", json={"login": "someone@example.com", "password": "wrong-wrong"})
    assert r.status_code == 429


async def test_cookie_write_without_csrf_is_refused(new_client):
    client = new_client(csrf=False)
    await sign_up(client)
    response = await client.post("/me/tokens", json={"name": "cli"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    ok = await client.post("/me/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": client.cookies["tack_csrf"]})
    assert ok.status_code == 201


async def test_personal_token_shown_once_works_and_revokes(new_client):
    owner = new_client()
    await sign_up(owner)
    created = check(await owner.post("/me/tokens", json={"name": "script"}), 201)
    raw = created["token"]
    assert raw.startswith("tack_pat_")
    listed = check(await owner.get("/me/tokens"), 200)
    assert all("token" not in t for t in listed)
    bearer = new_client(csrf=False)
    bearer.headers["Authorization"] = f"Bearer {raw}"
    assert (await bearer.get("/me")).status_code == 200
    # A token needs no CSRF header: it is not sent by browsers on their own.
    assert (await bearer.patch("/me", json={"name": "Scripted"})).status_code == 200
    check(await owner.delete(f"/me/tokens/{created['id']}"), 204)
    response = await bearer.get("/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_sign_out_revokes_the_session(client):
    await sign_up(client)
    check(await client.post("/auth/sign-out"), 204)
    assert (await client.get("/me")).status_code == 401


async def test_revoking_another_session(new_client):
    email = f"{unique('s')}@example.com"
    first = new_client()
    await sign_up(first, email=email)
    second = new_client()
    await sign_in(second, email)
    sessions = check(await second.get("/me/sessions"), 200)
    other = next(s for s in sessions if not s["current"])
    check(await second.delete(f"/me/sessions/{other['id']}"), 204)
    assert (await first.get("/me")).status_code == 401
    assert (await second.get("/me")).status_code == 200


async def test_a_person_cannot_revoke_someone_elses_token(new_client):
    alice, mallory = new_client(), new_client()
    await sign_up(alice)
    await sign_up(mallory)
    token = check(await alice.post("/me/tokens", json={"name": "mine"}), 201)
    assert (await mallory.delete(f"/me/tokens/{token['id']}")).status_code == 404


async def test_errors_use_the_envelope(client):
    response = await client.get("/me")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "details"}
    response = await client.get("/no/such/endpoint")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_bad_authorization_header(client):
    response = await client.get("/me", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_authorization"


async def test_sign_in_with_nul_in_the_login_is_refused_not_a_crash(new_client):
    # PostgreSQL cannot store or compare text with NUL; the login must be refused before the query.
    response = await new_client().post("/auth/sign-in", json={"login": "a\x00b@example.com", "password": "whatever"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_text_the_database_cannot_store_is_a_422(app):
    # The safety net behind the input schemas: an unstorable character is the client's error, not a 500.
    from fastapi import FastAPI
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from tack.core.errors import install_error_handlers

    class Orig(Exception):
        sqlstate = "22021"

    probe = FastAPI()
    install_error_handlers(probe)

    @probe.get("/probe")
    async def raise_unstorable() -> None:
        raise DBAPIError(str(select(1)), {}, Orig("invalid byte sequence for encoding UTF8: 0x00"))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=probe), base_url="http://t") as client:
        response = await client.get("/probe")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_text"
