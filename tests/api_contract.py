#!/usr/bin/env python3
"""The deployable API, the documented API and the local router agree.

- every route in template.yaml is in openapi.yaml and in the `cargo lambda watch`
  router (Cargo.toml), and vice versa;
- the good-request bodies in events/ validate against openapi.yaml's request schemas,
  and the bad ones that are about the body's shape do not;
- openapi.yaml is a valid OpenAPI 3.1 document;
- each function in template.yaml is granted (policy and secret id) exactly the secrets
  its code's `Needs` reads.

Run by scripts/test.sh with the project's Python environment (PyYAML, jsonschema,
openapi-spec-validator). Exits non-zero on the first disagreement.
"""

import base64
import json
import pathlib
import re
import sys
import tomllib

import jsonschema
import yaml
from openapi_spec_validator import validate as validate_openapi

ROOT = pathlib.Path(__file__).resolve().parent.parent
METHODS = {"get", "post", "put", "patch", "delete"}

# events/ files that are good requests (validated) and bad bodies (must not validate).
GOOD = {"ok.json", "new-user.json", "link.json", "session-email.json", "account-id.json",
        "force.json", "base64.json", "relabel.json", "sign-in.json", "default-scopes.json",
        "authorization-removed.json", "unknown-event.json", "page.json", "ids.json",
        "idempotent.json", "inbox.json", "url.json", "photos.json"}
BAD_BODY = {"unsupported-provider.json", "negative-count.json", "missing-open-id.json",
            "unknown-scope.json", "missing-code.json", "no-privacy-level.json",
            "inbox-with-post-info.json"}


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, ...) as plain values."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


CfnLoader.add_multi_constructor("!", _any_tag)


def fail(message):
    print(f"api contract: {message}", file=sys.stderr)
    sys.exit(1)


def template_routes():
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    routes = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                key = (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
                routes[key] = binary
    return routes


CATCH_ALL = ("ANY", "$default")


def library_routes():
    """shared/src/routes.rs's table, which the catch-all function answers from."""
    text = (ROOT / "shared" / "src" / "routes.rs").read_text()
    return set(re.findall(r'\(\s*"([A-Z]+)",\s*"(/[^"]*)",?\s*\)', text))


def router_routes():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
    return {(r["method"].upper(), path): r["function"] for path, rs in router.items() for r in rs}


# What each `Needs` of shared/src/config lets a function read: (TikTok client secret,
# Firebase service account).
NEEDS = {"NOTHING_SECRET": (False, False), "TIKTOK_CLIENT_SECRET": (True, False),
         "FIREBASE_ADMIN": (False, True), "BOTH": (True, True), "AUTHORIZE": (False, False),
         "CALLBACK": (True, True)}


# What in an endpoint's code calls Firebase's admin API.
ADMIN_CALLS = re.compile(r"authenticate_writer|writer_session|linking_session|Precheck|"
                         r"identity\.(?!verify_id_token)\w+|sign_in::connect|\bconnect\(")


def check_secrets():
    """Each function is granted, and told of, exactly the secrets its code reads."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    checked = 0
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        main_rs = (ROOT / "functions" / binary / "src" / "main.rs").read_text()
        found = re.search(r"Needs::([A-Z_]+)", main_rs)
        # serve_plain: no configuration at all, so no secret.
        needs = found.group(1) if found else "NOTHING_SECRET" if "serve_plain" in main_rs else None
        if needs not in NEEDS:
            fail(f"functions/{binary}: no known Needs")
        tiktok, firebase = NEEDS[needs]
        props = resource["Properties"]
        policies = set(props.get("Policies", []))
        env = props.get("Environment", {}).get("Variables", {})
        granted = ("ReadTikTokClientSecretPolicy" in policies, "ReadFirebaseServiceAccountPolicy" in policies)
        told = ("TIKTOK_SECRET_ID" in env, "FIREBASE_SECRET_ID" in env)
        if granted != (tiktok, firebase) or told != (tiktok, firebase):
            fail(f"{name} ({binary}, Needs::{needs}): secret policies {granted} and "
                 f"ids {told}, but its code reads (TikTok, Firebase) = {(tiktok, firebase)}")
        # Its endpoint calls Firebase's admin API (a write's or a link's session check,
        # users, custom tokens): that needs the service account, which the emulator of the
        # local stack does not, so only this check catches a function without it.
        module = re.search(r"(?:endpoints::|shared::)(\w+)::run", main_rs)
        if module:
            base = ROOT / "shared" / "src" / ("endpoints" if "endpoints::" in module.group(0) else "")
            files = [base / f"{module.group(1)}.rs", *sorted((base / module.group(1)).glob("*.rs"))]
            if not files[0].exists():
                fail(f"{name} ({binary}): its use case {files[0]} is missing")
            code = "".join(f.read_text() for f in files if f.exists())
            calls = ADMIN_CALLS.search(code)
            if calls and not firebase:
                fail(f"{name} ({binary}, Needs::{needs}): its use case calls Firebase's admin API "
                     f"({calls.group(0)}) without the service account")
        checked += 1
    return checked


def main():
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    validate_openapi(spec)
    spec_routes = {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS}

    template = template_routes()
    if template.pop(CATCH_ALL, None) != "route-not-found":
        fail("template.yaml has no $default route to route-not-found")
    router = router_routes()
    if library_routes() != set(template):
        fail(f"shared/src/routes.rs vs template: only in routes.rs {library_routes() - set(template)}, "
             f"only in template {set(template) - library_routes()}")
    if set(template) != spec_routes:
        fail(f"template vs openapi: only in template {set(template) - spec_routes}, "
             f"only in openapi {spec_routes - set(template)}")
    missing = {k: v for k, v in template.items() if router.get(k) != v}
    if missing:
        fail(f"template routes missing from the watch router: {missing}")
    # The router may add concrete aliases of a template route for the same function
    # (its path matching has no method fallback); nothing else.
    for (method, path), function in router.items():
        if (method, path) in template:
            continue
        if not any(m == method and f == function and re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", p), re.sub(r"\{[^/]+\}", "x", path))
                   for (m, p), f in template.items()):
            fail(f"router route {method} {path} -> {function} is not in the template")

    # One list of error codes: the library's (shared/src/error/code.rs) is the spec's.
    error_codes = re.findall(r'pub const [A-Z_]+: &str = "([a-z_]+)";',
                             (ROOT / "shared" / "src" / "error" / "code.rs").read_text())
    spec_codes = spec["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
    if sorted(error_codes) != sorted(spec_codes):
        fail(f"error codes: only in the library {set(error_codes) - set(spec_codes)}, "
             f"only in openapi.yaml {set(spec_codes) - set(error_codes)}")

    resolver_root = {"components": spec["components"]}
    checked = 0
    for path in sorted((ROOT / "events").glob("*/*.json")):
        if path.parent.name in ("refresh-connections", "route-not-found"):
            continue  # EventBridge's scheduled event, and the catch-all: no route of their own
        event = json.loads(path.read_text())
        function = path.parent.name
        method = event["requestContext"]["http"]["method"]
        route_path = event["routeKey"].split(" ", 1)[1]
        route = (method, route_path)
        if path.name in GOOD:
            if template.get(route) != function:
                fail(f"{path.relative_to(ROOT)}: {route} is not {function}'s route")
        operation = spec["paths"].get(route_path, {}).get(method.lower())
        body = event.get("body")
        if operation is None or "requestBody" not in operation or body is None:
            continue
        if path.name not in GOOD | BAD_BODY:
            continue
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        schema = dict(operation["requestBody"]["content"]["application/json"]["schema"])
        schema.update(resolver_root)
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.loads(body)))
        if path.name in GOOD and errors:
            fail(f"{path.relative_to(ROOT)} does not match the spec: {errors[0].message}")
        if path.name in BAD_BODY and not errors:
            fail(f"{path.relative_to(ROOT)} should not match the spec")
        checked += 1
    functions = check_secrets()
    print(f"api contract: {len(template)} routes agree across template.yaml, openapi.yaml, "
          f"shared/src/routes.rs and the watch router; {checked} event bodies checked against the spec; "
          f"{functions} functions granted exactly the secrets they read")


if __name__ == "__main__":
    main()
