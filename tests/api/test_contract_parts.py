"""Issue 15 (goal 5, memory): the request guard reads the contract (each operation's body schema,
the names an error may quote) from the OpenAPI documentation of one route or router at a time,
never building and keeping the whole document in a serving process (~8 MB); what it reads is
exactly what the published document says."""

from __future__ import annotations

from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi.routing import iter_route_contexts

from app.core.config import Settings
from app.core.deps import _body_schema
from app.core.errors import contract_names, schema_names
from app.main import create_app
from tests.conftest import make_tenant


def _inlined(schema: Any, components: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``schema`` with every component reference replaced by the component itself (a reference
    back into a component being inlined by its depth): equal whatever the components are named."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and len(schema) == 1:
            name = ref.rsplit("/", 1)[1]
            if name in seen:
                return {"<cycle>": seen.index(name)}
            return _inlined(components[name], components, (*seen, name))
        return {k: _inlined(v, components, seen) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inlined(v, components, seen) for v in schema]
    return schema


def test_every_body_schema_read_route_by_route_is_the_published_one(settings: Settings) -> None:
    """For each operation, the body schema the guard checks (from that route's own document)
    is the published document's, component for component; operations without a JSON body
    have none either way."""
    app = create_app(settings)
    document = app.openapi()
    components = document["components"]["schemas"]
    checked = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = getattr(route, "path", None)
        operations = document["paths"].get(path, {})
        for method in getattr(route, "methods", None) or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            content = (operation.get("requestBody") or {}).get("content", {})
            published = content.get("application/json", {}).get("schema")
            ours = _body_schema(app, method, route)
            if published is None:
                assert ours is None, (method, path)
                continue
            assert ours is not None, (method, path)
            body = {k: v for k, v in ours.items() if k != "components"}
            assert (_inlined(body, ours["components"]["schemas"])
                    == _inlined(published, components)), (method, path)
            checked += 1
    assert checked >= 20


def test_contract_names_are_the_published_documents(settings: Settings) -> None:
    """The names gathered router by router are exactly the published document's."""
    app = create_app(settings)
    assert contract_names(app) == schema_names(app.openapi())


async def test_writes_build_no_whole_openapi_document(settings: Settings) -> None:
    """A serving process that takes writes (bodies checked against the contract) and a 422
    never builds the whole OpenAPI document; /openapi.json still serves it."""
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://yjrisk.test") as c:
            tenant = await make_tenant(c, settings, "wokingham-pyjs-2024")
            case = (await tenant.open_case())["data"]["id"]
            r = await c.post(f"/v1/cases/{case}/judgements", headers=tenant.auth("case_holder"),
                             json={"domain": "swb", "level": "low"})
            assert r.status_code == 201, r.text
            r = await c.post(f"/v1/cases/{case}/judgements", headers=tenant.auth("case_holder"),
                             json={"domain": "swb", "level": 5})
            assert r.status_code == 422, r.text
            assert {e["loc"] for e in r.json()["errors"]} == {"body.level"}
            assert application.openapi_schema is None
            r = await c.get("/openapi.json")
            assert r.status_code == 200
            assert application.openapi_schema is not None
