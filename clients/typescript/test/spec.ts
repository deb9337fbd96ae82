// Checks every API answer against openapi.yaml: the operation must declare the status,
// and the body must validate (Ajv, JSON Schema 2020-12) against the schema declared for
// that operation and status. Used through `spec.fetch`, the fetch the test's clients use.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { parse } from "yaml";

export const SPEC_FILE = fileURLToPath(new URL("../../../openapi.yaml", import.meta.url));
const SPEC_ID = "https://spec.invalid/openapi.yaml";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

type Json = Record<string, unknown>;

interface Operation {
  id: string;
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
  responses: Json;
}

export interface Checked {
  operationId: string;
  method: string;
  path: string;
  status: number;
  headers: Headers;
  body: unknown;
}

export class SpecViolation extends Error {
  override readonly name = "SpecViolation";
}

/** "/a/{b}" as an escaped JSON pointer token. */
const pointerToken = (s: string) => s.replaceAll("~", "~0").replaceAll("/", "~1");

export class Spec {
  readonly doc: Json;
  readonly operations: Operation[] = [];
  /** Every answer checked, in order. */
  readonly checked: Checked[] = [];
  private readonly ajv: Ajv2020.default;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly baseUrl: string, file = SPEC_FILE) {
    this.doc = parse(readFileSync(file, "utf8")) as Json;
    this.ajv = new Ajv2020.default({ strict: false, allErrors: true });
    addFormats.default(this.ajv);
    // The whole document is one schema resource: `#/components/...` refs resolve in it.
    this.ajv.addSchema(this.doc, SPEC_ID);

    for (const [template, item] of Object.entries((this.doc.paths ?? {}) as Record<string, Json>)) {
      const names: string[] = [];
      const source = template
        .split(/(\{[^}]+\})/)
        .map((part) => {
          if (/^\{[^}]+\}$/.test(part)) {
            names.push(part);
            return "([^/]+)";
          }
          return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        })
        .join("");
      for (const method of METHODS) {
        const op = item[method] as Json | undefined;
        if (!op) continue;
        this.operations.push({
          id: String(op.operationId),
          method,
          template,
          pattern: new RegExp(`^${source}$`),
          params: names.length,
          responses: (op.responses ?? {}) as Json,
        });
      }
    }
  }

  /** The operation a request is for: method and path, literal paths before templated ones. */
  operationFor(method: string, pathname: string): Operation {
    const prefix = new URL(this.baseUrl).pathname.replace(/\/$/, "");
    const path = prefix && pathname.startsWith(prefix) ? pathname.slice(prefix.length) : pathname;
    const found = this.operations
      .filter((op) => op.method === method.toLowerCase() && op.pattern.test(path))
      .sort((a, b) => a.params - b.params)[0];
    if (!found) throw new SpecViolation(`${method} ${path}: no operation in openapi.yaml`);
    return found;
  }

  /** Follows `$ref`s (e.g. into #/components/responses/) to the object and its JSON pointer. */
  private resolve(value: unknown, pointer: string): [Json, string] {
    for (let hops = 0; hops < 10; hops++) {
      const ref = (value as Json | undefined)?.$ref;
      if (typeof ref !== "string") return [value as Json, pointer];
      if (!ref.startsWith("#/")) throw new SpecViolation(`unsupported $ref ${ref} at ${pointer}`);
      pointer = ref.slice(1);
      value = pointer
        .split("/")
        .slice(1)
        .reduce<unknown>((node, token) => (node as Json | undefined)?.[token.replaceAll("~1", "/").replaceAll("~0", "~")], this.doc);
      if (value === undefined) throw new SpecViolation(`$ref ${ref} does not resolve`);
    }
    throw new SpecViolation(`$ref loop at ${pointer}`);
  }

  /** Checks one answer; throws a SpecViolation saying what is wrong. */
  check(method: string, url: URL, status: number, headers: Headers, text: string): Checked {
    const op = this.operationFor(method, url.pathname);
    const where = `${op.id} (${method.toUpperCase()} ${url.pathname}) answered ${status}`;
    const declared = op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`] ?? op.responses.default;
    if (!declared) {
      throw new SpecViolation(
        `${where}, a status the operation does not declare (declared: ${Object.keys(op.responses).join(", ")}); body: ${text}`,
      );
    }
    const key = Object.keys(op.responses).find((k) => op.responses[k] === declared)!;
    const [response, responsePointer] = this.resolve(
      declared,
      `/paths/${pointerToken(op.template)}/${op.method}/responses/${key}`,
    );
    const content = response.content as Record<string, Json> | undefined;
    const media = content?.["application/json"];
    let body: unknown = undefined;
    if (!media) {
      if (text !== "") throw new SpecViolation(`${where} with a body, but declares no application/json content: ${text}`);
    } else {
      const type = headers.get("content-type") ?? "";
      if (!/^application\/json\b/i.test(type)) {
        throw new SpecViolation(`${where} with Content-Type "${type}", not application/json`);
      }
      try {
        body = JSON.parse(text);
      } catch {
        throw new SpecViolation(`${where} with a body that is not JSON: ${JSON.stringify(text)}`);
      }
      const schemaPointer = `${responsePointer}/content/${pointerToken("application/json")}/schema`;
      let validate = this.validators.get(schemaPointer);
      if (!validate) {
        validate = this.ajv.compile({ $ref: `${SPEC_ID}#${schemaPointer}` });
        this.validators.set(schemaPointer, validate);
      }
      if (!validate(body)) {
        const errors = (validate.errors ?? [])
          .map((e) => `  ${e.instancePath || "(body)"} ${e.message ?? ""} ${JSON.stringify(e.params)} [schema ${e.schemaPath}]`)
          .join("\n");
        throw new SpecViolation(
          `${where}; the body does not match #${schemaPointer}:\n${errors}\nbody: ${JSON.stringify(body, null, 2)}`,
        );
      }
    }
    const checked = { operationId: op.id, method: method.toUpperCase(), path: url.pathname, status, headers, body };
    this.checked.push(checked);
    return checked;
  }

  /** A fetch that checks every answer against the spec before handing it on. */
  readonly fetch = async (request: Request): Promise<Response> => {
    const method = request.method;
    const url = new URL(request.url);
    const response = await fetch(request);
    const text = await response.clone().text();
    this.check(method, url, response.status, response.headers, text);
    return response;
  };

  /** The answer checked last (what a client call just received). */
  get last(): Checked {
    const last = this.checked.at(-1);
    if (!last) throw new Error("no answer checked yet");
    return last;
  }
}
