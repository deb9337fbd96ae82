#!/usr/bin/env python3
"""The deployable API, the documented API and the local router agree.

- every route in template.yaml is in openapi.yaml and in the `cargo lambda watch`
  router (Cargo.toml), and vice versa;
- the catch-all function has ANY on every route's path (a REST API has no $default), and
  every route is under a per-client WAF rate limit, the sign-in routes and the webhook
  under tighter ones than the rest;
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
import subprocess
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
        "idempotent.json", "inbox.json", "url.json", "photos.json", "scheduled.json", "filtered.json",
        "reschedule.json", "media.json"}
BAD_BODY = {"unsupported-provider.json", "negative-count.json", "missing-open-id.json",
            "unknown-scope.json", "missing-code.json", "no-privacy-level.json",
            "inbox-with-post-info.json", "unconfirmed.json", "too-large.json"}


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


def load_template():
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


def template_routes(template):
    """{(METHOD, path): binary} of every function's API event, the catch-all's ANY
    methods included."""
    routes = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                fail(f"{name}: an HttpApi event; the API is the REST API `Api` (it takes the WAF)")
            if event["Type"] == "Api":
                if event["Properties"].get("RestApiId") != "Api":
                    fail(f"{name}: an API event outside the REST API `Api`")
                key = (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
                if key in routes:
                    fail(f"{key} is routed twice")
                routes[key] = binary
    return routes


CATCH_ALL = "route-not-found"


def pattern_of(path):
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


def split_catch_all(routes):
    """(the API's routes, the REST aliases among them, the catch-all's paths). An alias is
    a route whose path is a concrete case of another route's with the same method and
    function: a REST API picks the resource before the method, so a method served on a
    general path must be routed again on a more specific one that shares its URLs."""
    catch_all = set()
    served = {}
    for (method, path), binary in routes.items():
        if binary == CATCH_ALL:
            if method != "ANY":
                fail(f"the catch-all has {method} {path}; it takes ANY only")
            catch_all.add(path)
        elif method == "ANY":
            fail(f"{binary} takes ANY on {path}; only the catch-all does")
        else:
            served[(method, path)] = binary
    aliases = set()
    for (method, path), binary in served.items():
        general = [p for (m, p), b in served.items()
                   if m == method and b == binary and p != path
                   and pattern_of(p).match(re.sub(r"\{[^/]+\}", "x", path))]
        if general:
            aliases.add((method, path))
    return served, aliases, catch_all


def check_catch_all(served, catch_all):
    """OPTIONS and unserved methods reach the catch-all on every resource the API has,
    and any other path too."""
    wanted = {"/", "/{proxy+}"} | {path for _, path in served}
    if catch_all != wanted:
        fail(f"the catch-all's ANY paths: missing {sorted(wanted - catch_all)}, "
             f"extra {sorted(catch_all - wanted)}")


def check_waf(template, served):
    """Every route is under a rate-based rule of the web ACL attached to the API's stage;
    the sign-in routes and the webhook are under one tighter than the API-wide one. The
    rules' path matches are evaluated on each route's URL as WAF sees it (the stage
    first)."""
    resources = template["Resources"]
    params = template["Parameters"]
    acls = [n for n, r in resources.items() if r["Type"] == "AWS::WAFv2::WebACL"]
    if len(acls) != 1:
        fail(f"template.yaml must have one WAF web ACL, has {acls}")
    acl = resources[acls[0]]["Properties"]
    if acl.get("Scope") != "REGIONAL" or "Allow" not in acl.get("DefaultAction", {}):
        fail("the web ACL must be REGIONAL and allow what no rule blocks")
    associations = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACLAssociation"]
    if not any(a.get("WebACLArn") == f"{acls[0]}.Arn" and "/restapis/${Api}/stages/${Api.Stage}" in str(a.get("ResourceArn"))
               for a in associations):
        fail("the web ACL is not associated with the API's stage")

    def limit(rule):
        name = rule["Statement"]["RateBasedStatement"]["Limit"]
        if name not in params:
            fail(f"WAF rule {rule['Name']}: its limit must be a template parameter")
        return int(params[name]["Default"])

    def applies(statement, url):
        if statement is None:
            return True
        if "ByteMatchStatement" in statement:
            match = statement["ByteMatchStatement"]
            if "UriPath" not in match["FieldToMatch"]:
                fail(f"unexpected WAF match {match['FieldToMatch']}")
            needle, where = match["SearchString"], match["PositionalConstraint"]
            return {"CONTAINS": needle in url, "STARTS_WITH": url.startswith(needle),
                    "ENDS_WITH": url.endswith(needle), "EXACTLY": url == needle}[where]
        if "OrStatement" in statement:
            return any(applies(s, url) for s in statement["OrStatement"]["Statements"])
        fail(f"unexpected WAF statement {list(statement)}")

    rules = []
    for rule in acl["Rules"]:
        statement = rule["Statement"].get("RateBasedStatement")
        if statement is None:
            continue
        if statement.get("AggregateKeyType") != "IP" or "Block" not in rule["Action"]:
            fail(f"WAF rule {rule['Name']} must block per client IP")
        if rule["Action"]["Block"].get("CustomResponse", {}).get("ResponseCode") != 429:
            fail(f"WAF rule {rule['Name']} must answer 429")
        rules.append((rule["Name"], limit(rule), statement.get("ScopeDownStatement")))
    api_wide = [r for r in rules if r[2] is None]
    if not api_wide:
        fail("no WAF rate rule covers the whole API")
    widest = min(r[1] for r in api_wide)
    tight_prefixes = ("/api/v1/auth/", "/api/v1/webhooks/")
    for method, path in sorted(served):
        url = "/live" + re.sub(r"\{[^/]+\}", "x", path)
        limits = [lim for _, lim, scope in rules if applies(scope, url)]
        if not limits:
            fail(f"{method} {path} is under no WAF rate limit")
        if path.startswith(tight_prefixes) and not min(limits) < widest:
            fail(f"{method} {path} (unauthenticated) needs a tighter per-client limit than the API-wide {widest}")
    return len(rules)


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
        # The media bucket: its name and a policy for exactly the functions built with it.
        media = "with_media()" in main_rs
        media_policies = policies & {"MediaUploadPolicy", "MediaReadPolicy"}
        if media != ("MEDIA_BUCKET" in env) or media != bool(media_policies):
            fail(f"{name} ({binary}): media in its code {media}, but MEDIA_BUCKET "
                 f"{'MEDIA_BUCKET' in env} and media policies {sorted(media_policies)}")
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


# The alarms docs/runbook.md explains, by name: the list, each one of them.
NAMED_ALARMS = ["DispatchLagAlarm", "UnconfirmedPostsAlarm", "DispatcherStoppedAlarm",
                "SweepStoppedAlarm", "SyncStoppedAlarm", "WebhookSignatureFailuresAlarm",
                "DeadLetterQueueAlarm"]


def check_alarms(template):
    """Every named alarm exists; every function has its Errors and Throttles alarms and
    every HTTP function its 5xx rate alarm; each alarm notifies AlarmTopicArn when it is
    set (HasAlarmTopic) and takes its threshold from a parameter (or 0); the generated
    section is what scripts/gen_alarms.py writes; the runbook has a section per alarm."""
    generated = subprocess.run([sys.executable, str(ROOT / "scripts/gen_alarms.py"), "--check"],
                               capture_output=True, text=True)
    if generated.returncode != 0:
        fail(generated.stderr.strip() or "scripts/gen_alarms.py --check failed")
    resources = template["Resources"]
    alarms = {n: r for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    wanted = list(NAMED_ALARMS)
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        wanted += [f"{name}ErrorsAlarm", f"{name}ThrottlesAlarm"]
        events = (resource["Properties"].get("Events") or {}).values()
        if any(e.get("Type") == "Api" for e in events):
            wanted.append(f"{name}ServerErrorRateAlarm")
    missing = [n for n in wanted if n not in alarms]
    if missing:
        fail(f"alarms missing: {missing}")
    parameters = template["Parameters"]
    if parameters.get("AlarmTopicArn", {}).get("Default") != "":
        fail("AlarmTopicArn must be a parameter, empty by default (no notifications)")
    runbook = (ROOT / "docs/runbook.md").read_text()
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        for key in ("AlarmActions", "OKActions"):
            action = props.get(key)
            if action != ["HasAlarmTopic", ["AlarmTopicArn"], "AWS::NoValue"]:
                fail(f"{name}: {key} must notify AlarmTopicArn when HasAlarmTopic: {action}")
        threshold = props.get("Threshold")
        if threshold != 0 and threshold not in parameters:
            fail(f"{name}: its threshold must be a parameter: {threshold}")
        if f"### {name}" not in runbook and name not in NAMED_ALARMS and not name.endswith(
                ("ErrorsAlarm", "ThrottlesAlarm", "ServerErrorRateAlarm")):
            fail(f"{name} is not in docs/runbook.md")
    for name in NAMED_ALARMS + ["ErrorsAlarm", "ThrottlesAlarm", "ServerErrorRateAlarm"]:
        if f"### {name}" not in runbook:
            fail(f"docs/runbook.md has no section ### {name}")
    if "HasAlarmTopic" not in template.get("Conditions", {}):
        fail("no HasAlarmTopic condition")
    return len(alarms)


def main():
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    validate_openapi(spec)
    spec_routes = {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS}

    loaded = load_template()
    everything = template_routes(loaded)
    served, aliases, catch_all = split_catch_all(everything)
    check_catch_all(served, catch_all)
    waf_rules = check_waf(loaded, served)
    router = router_routes()
    if router != served:
        fail(f"template vs the watch router: only in the template {set(served.items()) - set(router.items())}, "
             f"only in the router {set(router.items()) - set(served.items())}")
    if library_routes() != set(served):
        fail(f"shared/src/routes.rs vs template: only in routes.rs {library_routes() - set(served)}, "
             f"only in template {set(served) - library_routes()}")
    template = {k: v for k, v in served.items() if k not in aliases}
    if set(template) != spec_routes:
        fail(f"template vs openapi: only in template {set(template) - spec_routes}, "
             f"only in openapi {spec_routes - set(template)}")

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
        if path.parent.name in ("refresh-connections", "publish-scheduled-posts", "route-not-found"):
            continue  # EventBridge's scheduled event, and the catch-all: no route of their own
        event = json.loads(path.read_text())
        function = path.parent.name
        method = event["httpMethod"]
        route_path = event["resource"]
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
    alarms = check_alarms(loaded)
    print(f"api contract: {alarms} alarms, each notifying the topic parameter; "
          f"{len(template)} routes (and {len(aliases)} REST alias) agree across template.yaml, "
          f"openapi.yaml, shared/src/routes.rs and the watch router; the catch-all takes ANY on "
          f"{len(catch_all)} paths; {waf_rules} WAF rate rules cover every route; {checked} event bodies "
          f"checked against the spec; {functions} functions granted exactly the secrets they read")


if __name__ == "__main__":
    main()
