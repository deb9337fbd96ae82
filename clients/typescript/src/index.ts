// A typed client for the TikTok connections API. The types come from ../../openapi.yaml
// (npm run generate writes src/schema.d.ts); the requests go through openapi-fetch.
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];
type Query<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

/** The stable `code` of an error answer (the `Error` schema's enum). */
export type ErrorCode = Schemas["Error"]["code"];
/** A post to make (a dry run is `checkTikTokPost`). */
export type PostRequest = Omit<Schemas["PublishRequest"], "dry_run">;

export type {
  Schemas,
  components,
  operations,
  paths,
};

/** Where a browser keeps an authorization between tiktok-authorize and its callback. */
export interface AuthorizationStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const AUTHORIZATION_KEY = "tiktok-authorization";

/**
 * Keeps a started authorization's `state` and `binding` (the binding never goes in a
 * URL) until its callback: `storage` is the browser's `sessionStorage`.
 */
export function keepAuthorization(
  started: { state: string; binding: string },
  storage: AuthorizationStorage,
): void {
  storage.setItem(AUTHORIZATION_KEY, JSON.stringify({ state: started.state, binding: started.binding }));
}

/**
 * The binding of the authorization this browser started, if TikTok's redirect carries
 * its state (anything else is not this browser's: refuse it), used once.
 */
export function takeAuthorization(state: string | null, storage: AuthorizationStorage): string | null {
  const kept = storage.getItem(AUTHORIZATION_KEY);
  storage.removeItem(AUTHORIZATION_KEY);
  if (!kept || !state) return null;
  const { state: expected, binding } = JSON.parse(kept) as { state: string; binding: string };
  return expected === state ? binding : null;
}

export interface ClientOptions {
  /** The API's root, e.g. http://localhost:9000 or the stack's ApiUrl. */
  baseUrl: string;
  /**
   * The Firebase ID token of the signed-in user, or null when nobody is signed in
   * (e.g. `() => auth.currentUser?.getIdToken() ?? Promise.resolve(null)`).
   * Called before every request, so a refreshed token is always used.
   */
  getIdToken: () => Promise<string | null>;
  /** Another fetch (tests, custom agents); defaults to the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

/** A non-2xx answer. `code` is null only when the body is not the API's `Error` (e.g. a gateway's own 504). */
export class TikTokConnectionsError extends Error {
  override readonly name = "TikTokConnectionsError";

  constructor(
    readonly status: number,
    readonly code: ErrorCode | null,
    readonly detail: string,
    readonly requestId: string | null,
    /** Seconds to wait before retrying (the Retry-After header), or null. */
    readonly retryAfter: number | null,
  ) {
    super(`${status} ${code ?? "error"}: ${detail}`);
  }

  static fromResponse(response: Response, body: unknown): TikTokConnectionsError {
    const error = isErrorBody(body) ? body : null;
    return new TikTokConnectionsError(
      response.status,
      error?.code ?? null,
      error?.detail ?? (typeof body === "string" && body ? body : response.statusText),
      error?.request_id ?? response.headers.get("apigw-requestid"),
      retryAfterSeconds(response.headers.get("Retry-After")),
    );
  }
}

function isErrorBody(body: unknown): body is Schemas["Error"] {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as Record<string, unknown>).code === "string" &&
    typeof (body as Record<string, unknown>).detail === "string"
  );
}

/** Retry-After is delay-seconds or an HTTP date. */
function retryAfterSeconds(value: string | null): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** The 2xx body, or a TikTokConnectionsError. */
async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw TikTokConnectionsError.fromResponse(response, error);
  return data as T;
}

export function createTikTokConnectionsClient({ baseUrl, getIdToken, fetch }: ClientOptions) {
  const http = createClient<paths>({ baseUrl, ...(fetch ? { fetch } : {}) });
  http.use({
    async onRequest({ request }) {
      const token = await getIdToken();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  });

  // One method per operation of openapi.yaml, named by its operationId. Not here:
  // tiktokWebhook, which TikTok calls (signed with the client secret), never a browser.
  return {
    /** Sign in with a TikTok access token (no session), or link it to the signed-in user. */
    oauthTikTok: (body: Schemas["OAuthTikTokRequest"]) =>
      unwrap(http.POST("/api/v1/auth/oauth/tiktok", { body })),

    /** Start TikTok's authorization on the server: sign in without a session, link with one. */
    startTikTokAuthorization: (body: Schemas["AuthorizeRequest"]) =>
      unwrap(http.POST("/api/v1/auth/tiktok/authorize", { body })),

    /**
     * Finish it with the `code` and `state` TikTok put on the redirect, and the `binding`
     * kept by {@link keepAuthorization} (see {@link takeAuthorization}).
     */
    finishTikTokAuthorization: (body: Schemas["CallbackRequest"]) =>
      unwrap(http.POST("/api/v1/auth/tiktok/callback", { body })),

    /** Store (create or update) the caller's tokens for a provider account. */
    storeToken: (body: Schemas["StoreTokenRequest"]) =>
      unwrap(http.POST("/api/v1/social-connections/store-token", { body })),

    /** The caller's connections of every provider. */
    listConnections: () => unwrap(http.GET("/api/v1/social-connections/connections")),

    /** Relabel a connection, or make it its provider's primary. */
    updateConnection: (
      provider: operations["updateConnection"]["parameters"]["path"]["provider"],
      accountId: string,
      changes: Schemas["UpdateConnectionRequest"],
    ) =>
      unwrap(
        http.PATCH("/api/v1/social-connections/{provider}/{account_id}", {
          params: { path: { provider, account_id: accountId } },
          body: changes,
        }),
      ),

    /** Revoke the app's access at TikTok and remove the connection. */
    disconnectTikTok: (openId: string) =>
      unwrap(
        http.DELETE("/api/v1/social-connections/tiktok/{open_id}", {
          params: { path: { open_id: openId } },
        }),
      ),

    /** The TikTok profile (cached while fresh; `force: "true"` skips the cache). */
    getTikTokProfile: (query: Query<"getTikTokProfile"> = {}) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/profile", { params: { query } })),

    /** Store a profile the client fetched itself. */
    storeTikTokProfile: (body: Schemas["StoreTikTokProfileRequest"]) =>
      unwrap(http.POST("/api/v1/social-connections/store-tiktok-profile", { body })),

    /** Whether the TikTok connection works. */
    testTikTokConnection: (query: Query<"testTikTokConnection"> = {}) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/test", { params: { query } })),

    /** A page of the account's videos, or the videos given by `ids`. */
    listTikTokVideos: (query: Query<"listTikTokVideos"> = {}) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/videos", { params: { query } })),

    /** What the creator may post now; build the post form from it each time. */
    getTikTokCreatorInfo: (query: Query<"getTikTokCreatorInfo"> = {}) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/creator-info", { params: { query } })),

    /** Initialise a post; the same `idempotencyKey` makes a retry answer the same post. */
    publishToTikTok: (body: PostRequest, options: { idempotencyKey?: string } = {}) =>
      unwrap(
        http.POST("/api/v1/social-connections/tiktok/posts", {
          params: { header: options.idempotencyKey ? { "Idempotency-Key": options.idempotencyKey } : {} },
          body,
        }),
      ) as Promise<Schemas["PostCreated"]>,

    /**
     * Every check of a post (its video against TikTok's rules, the app's audit, the
     * creator's caps) without storing or sending anything: show `problems` next to their
     * `field` in the post form.
     */
    checkTikTokPost: (body: PostRequest) =>
      unwrap(
        http.POST("/api/v1/social-connections/tiktok/posts", { params: { header: {} }, body: { ...body, dry_run: true } }),
      ) as Promise<Schemas["DryRun"]>,

    /**
     * Whether the creator can post now under TikTok's caps (the capacity ledger): the caps
     * that block and when the next slot frees. `mode: "inbox"` counts pending inbox shares.
     */
    getTikTokPostCapacity: (query: Query<"getTikTokPostCapacity"> = {}) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/posts/capacity", { params: { query } })),

    /**
     * An account's daily followers, following, likes and video count from `from` to `to`
     * (YYYY-MM-DD; default the last 30 days), with `synced_at`, `next_sync_at` and, when
     * nothing new comes, `unavailable` (why).
     */
    getTikTokAccountAnalytics: (query: Query<"getTikTokAccountAnalytics"> = {}) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/analytics/account", { params: { query } })),

    /**
     * The account's videos made from `from` to `to`, with their totals, growth in the range
     * and velocity; `sort` by `recent`, `views`, `growth` or `velocity`; the next page at
     * `next_cursor`.
     */
    listTikTokVideoAnalytics: (query: Query<"listTikTokVideoAnalytics"> = {}) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/analytics/videos", { params: { query } })),

    /** One video of the account and its series (hourly in its first day, then daily). */
    getTikTokVideoAnalytics: (videoId: string, query: Query<"getTikTokVideoAnalytics"> = {}) =>
      unwrap(
        http.GET("/api/v1/social-connections/tiktok/analytics/videos/{video_id}", {
          params: { path: { video_id: videoId }, query },
        }),
      ),

    /** The caller's post and its current status. */
    getTikTokPost: (id: string) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/posts/{id}", { params: { path: { id } } })),

    /**
     * A media object to upload once (a video for scheduled posts): PUT the file to
     * `upload.url` with `upload.headers` (see {@link uploadMedia}), then poll
     * {@link getTikTokMedia} until it is `ready`.
     */
    createTikTokMedia: (body: NonNullable<operations["createTikTokMedia"]["requestBody"]>["content"]["application/json"]) =>
      unwrap(http.POST("/api/v1/social-connections/tiktok/media", { body })),

    /** The caller's media: `ready` once the file is in storage with its declared size. */
    getTikTokMedia: (id: string) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/media/{id}", { params: { path: { id } } })),

    /** The caller's posts for the calendar, newest first; `next_cursor` pages on. */
    listTikTokPosts: (query: Query<"listTikTokPosts"> = {}) =>
      unwrap(http.GET("/api/v1/social-connections/tiktok/posts", { params: { query } })),

    /** Reschedule (`scheduled_at`) or edit (`post_info`, whole) a post still SCHEDULED. */
    updateTikTokPost: (
      id: string,
      changes: NonNullable<operations["updateTikTokPost"]["requestBody"]>["content"]["application/json"],
    ) =>
      unwrap(
        http.PATCH("/api/v1/social-connections/tiktok/posts/{id}", { params: { path: { id } }, body: changes }),
      ),

    /** Cancel a post still SCHEDULED. */
    cancelTikTokPost: (id: string) =>
      unwrap(http.DELETE("/api/v1/social-connections/tiktok/posts/{id}", { params: { path: { id } } })),

    /**
     * A new attempt of an UNCONFIRMED or FAILED scheduled post. Only on the user's word:
     * TikTok may already have made an UNCONFIRMED post.
     */
    retryTikTokPost: (id: string) =>
      unwrap(
        http.POST("/api/v1/social-connections/tiktok/posts/{id}/retry", {
          params: { path: { id } },
          body: { confirm: true },
        }),
      ),
  };
}

export type TikTokConnectionsClient = ReturnType<typeof createTikTokConnectionsClient>;

/**
 * PUTs a file once to a media object's presigned upload (the `upload` of
 * `createTikTokMedia`), straight to storage: the API never carries the bytes.
 */
export async function uploadMedia(
  upload: { url: string; method: "PUT"; headers: Record<string, string> },
  file: Blob,
  fetchImpl: typeof fetch = fetch,
): Promise<void> {
  const res = await fetchImpl(upload.url, { method: upload.method, headers: upload.headers, body: file });
  if (!res.ok) throw new Error(`media upload refused: ${res.status}`);
}

