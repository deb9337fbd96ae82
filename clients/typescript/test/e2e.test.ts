// End to end against a running local stack: the official Firebase JS SDK on the Auth
// emulator, the TikTok fake, and the API (cargo lambda watch). Every answer the API gives
// is checked against openapi.yaml by spec.fetch (test/spec.ts).
//
//   source ../../.stack/env && npm run test:e2e    (after scripts/run.sh; README.md)
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";
import { deleteApp, initializeApp } from "firebase/app";
import {
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  getAuth,
  signInWithCustomToken,
  signInWithEmailAndPassword,
  signOut,
} from "firebase/auth";
import {
  createTikTokConnectionsClient,
  keepAuthorization,
  takeAuthorization,
  TikTokConnectionsError,
  uploadMedia,
  type ErrorCode,
} from "../src/index.js";
import { Spec } from "./spec.js";

// -- settings ---------------------------------------------------------------------------
const REQUIRED = ["FIREBASE_AUTH_EMULATOR_HOST", "FIREBASE_PROJECT_ID", "STACK_TIKTOK_URL", "TIKTOK_REDIRECT_URIS"];
const missing = REQUIRED.filter((name) => !process.env[name]?.trim());
const env = (name: string) => process.env[name]?.trim() ?? "";
// LOCAL_API_URL: where scripts/serve.sh put the API (in the stack's env file).
const apiBaseUrl = env("API_BASE_URL") || env("LOCAL_API_URL") || "http://localhost:9000";
const tiktokUrl = env("STACK_TIKTOK_URL").replace(/\/$/, "");
const redirectUri = env("TIKTOK_REDIRECT_URIS").split(",")[0]?.trim() ?? "";
const projectId = env("FIREBASE_PROJECT_ID");

// -- Firebase (the official JS SDK, on the emulator) -------------------------------------
const firebaseApp = initializeApp({ apiKey: "local", projectId, authDomain: `${projectId}.firebaseapp.com` });
const auth = getAuth(firebaseApp);
if (missing.length === 0) {
  connectAuthEmulator(auth, `http://${env("FIREBASE_AUTH_EMULATOR_HOST")}`, { disableWarnings: true });
}

// -- the client under test: every answer checked against openapi.yaml --------------------
const spec = new Spec(apiBaseUrl);
const api = createTikTokConnectionsClient({
  baseUrl: apiBaseUrl,
  getIdToken: async () => (auth.currentUser ? auth.currentUser.getIdToken() : null),
  fetch: spec.fetch,
});
const anonymous = createTikTokConnectionsClient({ baseUrl: apiBaseUrl, getIdToken: async () => null, fetch: spec.fetch });

// -- helpers -------------------------------------------------------------------------------
interface FakeGrant {
  open_id: string;
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in: number;
  scope: string;
}
interface FakeConsent {
  code: string;
  open_id: string;
  redirect: string;
}

/** A control call to the TikTok fake (not the API: not checked against the spec). */
async function fake<T>(path: string, body: unknown, method = "POST"): Promise<T> {
  const response = await fetch(`${tiktokUrl}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `TikTok fake ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

const READ_SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list";
const newTikTokAccount = (displayName: string, scope = READ_SCOPES) =>
  fake<FakeGrant>("/_fake/accounts", { scope, profile: { display_name: displayName } });

/** Asserts that `call` fails with a TikTokConnectionsError of this status and code. */
async function rejectsWith(call: Promise<unknown>, status: number, code: ErrorCode) {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof TikTokConnectionsError, `expected a TikTokConnectionsError, got: ${String(error)}`);
    assert.equal(error.status, status, error.message);
    assert.equal(error.code, code, error.message);
    assert.ok(error.detail.length > 0, "detail");
    assert.ok(error.requestId, "requestId");
    return true;
  });
}

const inOneHour = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();
const randomEmail = () => `e2e-${randomUUID()}@example.com`;

/** The flow's steps, in order; after a failure the rest are skipped, saying why. */
let broken: string | null = null;
function step(name: string, body: () => Promise<void>) {
  test(name, async (t) => {
    if (broken) return t.skip(`not run: "${broken}" failed`);
    try {
      await body();
    } catch (error) {
      broken = name;
      throw error;
    }
  });
}

after(async () => {
  await signOut(auth).catch(() => {});
  await deleteApp(firebaseApp);
});

// -- the flow --------------------------------------------------------------------------------
step("the environment names the stack", async () => {
  assert.deepEqual(
    missing,
    [],
    `missing: ${missing.join(", ")}. Source the stack's env file (.stack/env once scripts/run.sh serves the API; ` +
      "$STACK_DIR/stack.env inside scripts/with-stack.sh) and set API_BASE_URL (default $LOCAL_API_URL, else http://localhost:9000).",
  );
  assert.ok(redirectUri, "TIKTOK_REDIRECT_URIS names no redirect URI");
});

const user = { email: randomEmail(), password: `pw-${randomUUID()}`, uid: "" };
let one: FakeGrant;
let two: FakeGrant;

step("sign up with email and password (Firebase)", async () => {
  const credential = await createUserWithEmailAndPassword(auth, user.email, user.password);
  user.uid = credential.user.uid;
  assert.ok(await auth.currentUser?.getIdToken(), "an ID token");
});

step("a call without a session: 401 unauthorized", async () => {
  await rejectsWith(anonymous.listConnections(), 401, "unauthorized");
  assert.match(spec.last.headers.get("www-authenticate") ?? "", /^Bearer/, "WWW-Authenticate");
});

step("store-token for two TikTok accounts", async () => {
  one = await newTikTokAccount("E2E One");
  two = await newTikTokAccount("E2E Two");
  for (const grant of [one, two]) {
    const connection = await api.storeToken({
      provider: "tiktok",
      provider_account_id: grant.open_id,
      access_token: grant.access_token,
      refresh_token: grant.refresh_token,
      expires_at: inOneHour(grant.expires_in),
      scope: grant.scope,
    });
    assert.equal(spec.last.status, 201, "created");
    assert.equal(connection.provider, "tiktok");
    assert.equal(connection.provider_account_id, grant.open_id);
    assert.ok(connection.id > 0);
  }
  // Storing again updates.
  const again = await api.storeToken({
    provider: "TikTok",
    provider_account_id: one.open_id,
    access_token: one.access_token,
    refresh_token: one.refresh_token,
    scope: one.scope,
  });
  assert.equal(spec.last.status, 200, "updated");
  assert.equal(again.provider_account_id, one.open_id);
});

step("list-connections shows both, without tokens", async () => {
  const { connections } = await api.listConnections();
  const ids = connections.map((c) => c.provider_account_id);
  assert.deepEqual(ids.sort(), [one.open_id, two.open_id].sort());
  for (const c of connections) {
    assert.equal(c.provider, "tiktok");
    assert.equal(c.status, "active");
  }
  const text = JSON.stringify(connections);
  for (const secret of [one.access_token, one.refresh_token, two.access_token, two.refresh_token]) {
    assert.ok(!text.includes(secret), "no token in list-connections");
  }
});

step("update-connection: relabel one, make the other primary", async () => {
  const relabelled = await api.updateConnection("tiktok", one.open_id, { account_label: "Main channel" });
  assert.equal(relabelled.provider_account_id, one.open_id);
  assert.equal(relabelled.account_label, "Main channel");

  const primary = await api.updateConnection("tiktok", two.open_id, { is_primary: true });
  assert.equal(primary.provider_account_id, two.open_id);
  assert.equal(primary.is_primary, true);

  const { connections } = await api.listConnections();
  const byId = new Map(connections.map((c) => [c.provider_account_id, c]));
  assert.equal(byId.get(two.open_id)?.is_primary, true);
  assert.equal(byId.get(one.open_id)?.is_primary, false);
  assert.equal(byId.get(one.open_id)?.account_label, "Main channel");
  assert.equal(connections[0]?.provider_account_id, two.open_id, "primary first");
});

step("profile: fresh with force=true, then cached", async () => {
  const fresh = await api.getTikTokProfile({ account_id: one.open_id, force: "true" });
  assert.equal(fresh.cached, false);
  assert.equal(fresh.open_id, one.open_id);
  assert.equal(fresh.display_name, "E2E One");
  assert.equal(fresh.source, "tiktok");

  const cached = await api.getTikTokProfile({ account_id: one.open_id });
  assert.equal(cached.cached, true);
  assert.equal(cached.open_id, one.open_id);
  assert.equal(cached.display_name, "E2E One");

  // Without account_id: the primary.
  const primary = await api.getTikTokProfile({ force: "1" });
  assert.equal(primary.open_id, two.open_id);
  assert.equal(primary.display_name, "E2E Two");
});

step("store-tiktok-profile stores a client-supplied profile", async () => {
  const stored = await api.storeTikTokProfile({
    profile: { open_id: two.open_id, display_name: "Two (client)", follower_count: 7 },
  });
  assert.equal(stored.success, true);
  assert.equal(stored.profile.open_id, two.open_id);
  assert.equal(stored.profile.display_name, "Two (client)");
  assert.equal(stored.profile.source, "client");
});

step("test-connection: connected", async () => {
  const result = await api.testTikTokConnection({ account_id: one.open_id });
  assert.equal(result.connected, true, result.message);
  assert.equal(result.profile?.open_id, one.open_id);
});

step("videos: pages with a cursor", async () => {
  const empty = await api.listTikTokVideos({ account_id: two.open_id });
  assert.deepEqual(empty.videos, []);

  await fake("/_fake/videos", { open_id: one.open_id, count: 3 });
  const first = await api.listTikTokVideos({ account_id: one.open_id, max_count: 2 });
  assert.equal(first.videos.length, 2);
  assert.equal(first.has_more, true);
  assert.equal(typeof first.cursor, "number");
  const second = await api.listTikTokVideos({ account_id: one.open_id, max_count: 2, cursor: first.cursor ?? 0 });
  assert.equal(second.videos.length, 1);
  assert.equal(second.has_more, false);
  const titles = [...first.videos, ...second.videos].map((v) => v.title);
  assert.deepEqual(titles, ["Video 0", "Video 1", "Video 2"], "newest first");

  const byIds = await api.listTikTokVideos({ account_id: one.open_id, ids: second.videos.map((v) => v.id).join(",") });
  assert.deepEqual(
    byIds.videos.map((v) => v.id),
    second.videos.map((v) => v.id),
  );
});

/** Runs a scheduled function once, as EventBridge does (through cargo lambda watch). */
async function invokeScheduled(name: string): Promise<Record<string, unknown>> {
  const port = env("LOCAL_WATCH_PORT");
  assert.ok(port, "LOCAL_WATCH_PORT (scripts/serve.sh)");
  const response = await fetch(`http://127.0.0.1:${port}/2015-03-31/functions/${name}/invocations`, {
    method: "POST",
    body: "{}",
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${name}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

step("analytics: the sync keeps the videos' and the account's history; the reads show it", async () => {
  // Before any sync: nothing yet, and when it comes.
  const before = await api.getTikTokAccountAnalytics({ account_id: one.open_id });
  assert.deepEqual(before.series, []);
  assert.equal(before.unavailable, null);
  const summary = await invokeScheduled("sync-analytics");
  assert.ok((summary.accounts as number) >= 2, JSON.stringify(summary));
  const account = await api.getTikTokAccountAnalytics({ account_id: one.open_id });
  assert.equal(account.series.length, 1);
  assert.equal(typeof account.series[0]?.followers, "number");
  assert.ok(account.synced_at && account.next_sync_at);
  const videos = await api.listTikTokVideoAnalytics({ account_id: one.open_id, sort: "views", limit: 2 });
  assert.equal(videos.total, 3);
  assert.equal(videos.videos.length, 2);
  assert.ok(videos.next_cursor);
  const rest = await api.listTikTokVideoAnalytics({
    account_id: one.open_id,
    sort: "views",
    limit: 2,
    cursor: videos.next_cursor ?? undefined,
  });
  assert.equal(rest.videos.length, 1);
  const first = videos.videos[0];
  assert.ok(first);
  const video = await api.getTikTokVideoAnalytics(first.video_id, { account_id: one.open_id });
  assert.equal(video.video.views, first.views);
  assert.equal(video.series.length, 1);
  await rejectsWith(
    api.getTikTokVideoAnalytics("7300000000000000001", { account_id: one.open_id }),
    404,
    "video_not_found",
  );
  await rejectsWith(api.listTikTokVideoAnalytics({ account_id: one.open_id, sort: "likes" as "views" }), 400, "invalid_request");
});

step("errors: an unknown account is 404 tiktok_not_connected", async () => {
  await rejectsWith(api.getTikTokProfile({ account_id: `unknown-${randomUUID()}` }), 404, "tiktok_not_connected");
  await rejectsWith(api.getTikTokPost(randomUUID()), 404, "post_not_found");
});

step("disconnect one; one is left", async () => {
  const result = await api.disconnectTikTok(one.open_id);
  assert.equal(result.success, true);
  assert.equal(result.revoked, true);
  const { connections } = await api.listConnections();
  assert.deepEqual(
    connections.map((c) => c.provider_account_id),
    [two.open_id],
  );
  await rejectsWith(api.disconnectTikTok(one.open_id), 404, "tiktok_not_connected");
});

step("a removal in TikTok's settings arrives as TikTok's signed webhook", async () => {
  // The fake delivers TikTok's events to the API's webhook route (scripts/serve.sh sets
  // the callback URL), signed with the client secret: nothing here signs anything.
  await fake("/_fake/deauthorize", { open_id: two.open_id });
  let status = "";
  for (let i = 0; i < 50 && status !== "revoked"; i++) {
    const { connections } = await api.listConnections();
    status = connections.find((c) => c.provider_account_id === two.open_id)?.status ?? "";
    if (status !== "revoked") await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(status, "revoked");
  const { deliveries } = await fake<{ deliveries: { event: string; attempts: unknown[] }[] }>(
    `/_fake/webhooks?open_id=${encodeURIComponent(two.open_id)}`, undefined, "GET");
  assert.deepEqual(deliveries.map((d) => [d.event, d.attempts]), [["authorization.removed", [200]]]);
});

step("publishing: creator info, an upload (idempotent), its status", async () => {
  const poster = await newTikTokAccount("E2E Poster", `${READ_SCOPES},video.publish,video.upload`);
  await api.storeToken({
    provider: "tiktok",
    provider_account_id: poster.open_id,
    access_token: poster.access_token,
    refresh_token: poster.refresh_token,
    scope: poster.scope,
  });
  const creator = await api.getTikTokCreatorInfo({ account_id: poster.open_id });
  assert.ok(creator.privacy_level_options.includes("SELF_ONLY"), JSON.stringify(creator));

  const request = {
    account_id: poster.open_id,
    mode: "direct" as const,
    source: { type: "upload" as const, video_size: 1024 },
    post_info: { title: "e2e", privacy_level: "SELF_ONLY" as const },
  };
  const key = `e2e-${randomUUID()}`;
  const created = await api.publishToTikTok(request, { idempotencyKey: key });
  assert.equal(spec.last.status, 201);
  assert.equal(created.status, "PROCESSING_UPLOAD");
  assert.ok(created.upload, "an upload plan");
  assert.equal(created.upload.total_chunk_count, 1);
  assert.equal(created.upload.video_size, 1024);

  const replay = await api.publishToTikTok(request, { idempotencyKey: key });
  assert.equal(spec.last.headers.get("idempotent-replayed"), "true");
  assert.equal(replay.id, created.id);
  await rejectsWith(
    api.publishToTikTok({ ...request, post_info: { ...request.post_info, title: "other" } }, { idempotencyKey: key }),
    409,
    "idempotency_key_reused",
  );

  // The browser's part: the chunk goes to TikTok (the fake), not through the API.
  const put = await fetch(created.upload.upload_url, {
    method: "PUT",
    headers: { "content-type": "video/mp4", "content-range": "bytes 0-1023/1024" },
    body: new Uint8Array(1024),
  });
  assert.equal(put.status, 201, await put.text());

  const post = await api.getTikTokPost(created.id);
  assert.equal(post.id, created.id);
  assert.equal(post.account_id, poster.open_id);
  assert.equal(post.mode, "direct");
  assert.equal(post.status, "PUBLISH_COMPLETE");
});

step("the calendar: schedule, list, reschedule, cancel; a retry only of what went wrong", async () => {
  const poster = await newTikTokAccount("E2E Planner", `${READ_SCOPES},video.publish,video.upload`);
  await api.storeToken({
    provider: "tiktok",
    provider_account_id: poster.open_id,
    access_token: poster.access_token,
    refresh_token: poster.refresh_token,
    scope: poster.scope,
  });
  const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const thursday = inDays(3);
  const scheduled = await api.publishToTikTok(
    {
      account_id: poster.open_id,
      mode: "direct",
      source: { type: "url", video_url: "https://media.example.com/verified/thursday.mp4" },
      post_info: { title: "Thursday", privacy_level: "SELF_ONLY" },
      scheduled_at: thursday,
    },
    { idempotencyKey: `e2e-${randomUUID()}` },
  );
  assert.equal(scheduled.status, "SCHEDULED");
  assert.equal(scheduled.publish_id, null);
  assert.equal(scheduled.scheduled_at, thursday);

  const page = await api.listTikTokPosts({ account_id: poster.open_id, status: "SCHEDULED" });
  assert.deepEqual(page.posts.map((p) => p.id), [scheduled.id]);
  assert.equal(page.next_cursor, null);

  const friday = inDays(4);
  const moved = await api.updateTikTokPost(scheduled.id, { scheduled_at: friday });
  assert.equal(moved.scheduled_at, friday);
  await rejectsWith(api.retryTikTokPost(scheduled.id), 409, "post_not_editable");

  const cancelled = await api.cancelTikTokPost(scheduled.id);
  assert.equal(cancelled.status, "CANCELLED");
  await rejectsWith(api.updateTikTokPost(scheduled.id, { scheduled_at: thursday }), 409, "post_not_editable");
  await rejectsWith(api.cancelTikTokPost(randomUUID()), 404, "post_not_found");
});

step("media: upload once to storage, ready, then a post of it", async () => {
  const poster = await newTikTokAccount("E2E Uploader", `${READ_SCOPES},video.publish,video.upload`);
  await api.storeToken({
    provider: "tiktok",
    provider_account_id: poster.open_id,
    access_token: poster.access_token,
    refresh_token: poster.refresh_token,
    scope: poster.scope,
  });
  // A real video's header (the repository's test clip), padded as a longer file would be.
  const clip = readFileSync(new URL("../../../testdata/media/clip.mp4", import.meta.url));
  const video = new Uint8Array(8192);
  video.set(clip);
  const media = await api.createTikTokMedia({ content_type: "video/mp4", size: video.length });
  assert.equal(media.status, "pending");
  await rejectsWith(
    api.publishToTikTok({
      account_id: poster.open_id,
      mode: "direct",
      source: { type: "media", media_id: media.id },
      post_info: { privacy_level: "SELF_ONLY" },
    }),
    409,
    "media_not_ready",
  );
  await uploadMedia(media.upload, new Blob([video], { type: "video/mp4" }));
  const ready = await api.getTikTokMedia(media.id);
  assert.equal(ready.status, "ready");
  assert.deepEqual(ready.facts, {
    container: "mp4",
    codec: "h264",
    duration_ms: 5000,
    width: 1080,
    height: 1920,
    frame_rate: 30,
  });
  // Checked before anything is stored: a dry run lists what TikTok would refuse.
  const checked = await api.checkTikTokPost({
    account_id: poster.open_id,
    mode: "direct",
    source: { type: "media", media_id: media.id },
    post_info: { title: "e2e media", privacy_level: "SELF_ONLY" },
  });
  assert.ok(checked.ok, JSON.stringify(checked));
  assert.equal(checked.capacity.can_post_now, true);
  const capacity = await api.getTikTokPostCapacity({ account_id: poster.open_id });
  assert.equal(capacity.can_post_now, true);
  assert.deepEqual(capacity.blocked_by, []);
  // A file that is no video is ready in storage, but cannot be posted.
  const text = await api.createTikTokMedia({ content_type: "video/mp4", size: 64 });
  await uploadMedia(text.upload, new Blob([new Uint8Array(64).fill(65)], { type: "video/mp4" }));
  const unreadable = await api.getTikTokMedia(text.id);
  assert.equal(unreadable.facts, null);
  assert.ok(unreadable.facts_error);
  await rejectsWith(
    api.publishToTikTok({
      account_id: poster.open_id,
      mode: "direct",
      source: { type: "media", media_id: text.id },
      post_info: { privacy_level: "SELF_ONLY" },
    }),
    400,
    "media_unreadable",
  );
  const post = await api.publishToTikTok({
    account_id: poster.open_id,
    mode: "direct",
    source: { type: "media", media_id: media.id },
    post_info: { title: "e2e media", privacy_level: "SELF_ONLY" },
  });
  assert.equal(post.status, "SCHEDULED");
  await rejectsWith(api.getTikTokMedia(randomUUID()), 404, "media_not_found");
});

step("sign in with TikTok (oauth-tiktok) without a session", async () => {
  await signOut(auth);
  const grant = await newTikTokAccount("E2E Sign-in");
  const email = randomEmail();
  const signedIn = await api.oauthTikTok({
    provider: "tiktok",
    provider_account_id: grant.open_id,
    access_token: grant.access_token,
    refresh_token: grant.refresh_token,
    expires_in: grant.expires_in,
    refresh_expires_in: grant.refresh_expires_in,
    scope: grant.scope,
    email,
  });
  assert.equal(signedIn.auth_provider, "tiktok.com");
  assert.ok(signedIn.firebase_token, "a custom token");
  await signInWithCustomToken(auth, signedIn.firebase_token);
  assert.equal(auth.currentUser?.uid, signedIn.firebase_uid);

  const { connections } = await api.listConnections();
  assert.deepEqual(
    connections.map((c) => [c.provider_account_id, c.sign_in_enabled]),
    [[grant.open_id, true]],
  );
});

/** The browser's sessionStorage, as Node has none. */
const storage = (() => {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
})();

/** Starts TikTok's authorization, consents at the fake, and parses the redirect. */
async function authorizeAtTikTok() {
  const started = await api.startTikTokAuthorization({ redirect_uri: redirectUri });
  keepAuthorization(started, storage);
  assert.ok(Date.parse(started.expires_at) > Date.now());
  const authorizeUrl = new URL(started.authorize_url);
  assert.equal(authorizeUrl.searchParams.get("redirect_uri"), redirectUri);
  assert.equal(authorizeUrl.searchParams.get("code_challenge_method"), "S256");
  // The default challenge is TikTok's: lowercase hex of the SHA-256 (the fake, like
  // TikTok, compares hex only).
  assert.match(authorizeUrl.searchParams.get("code_challenge") ?? "", /^[0-9a-f]{64}$/);
  const consent = await fake<FakeConsent>("/_fake/consent", {
    authorize_url: started.authorize_url,
    profile: { display_name: "E2E Consent" },
  });
  const redirect = new URL(consent.redirect);
  assert.equal(`${redirect.origin}${redirect.pathname}`, redirectUri);
  const code = redirect.searchParams.get("code");
  const state = redirect.searchParams.get("state");
  assert.equal(code, consent.code);
  assert.equal(state, started.state, "the state comes back on the redirect");
  // The browser kept the state and the binding in sessionStorage; the redirect's state
  // gives the binding back, once.
  const binding = takeAuthorization(state, storage);
  assert.ok(binding, "this browser's authorization");
  return { code: code ?? "", state: state ?? "", binding, openId: consent.open_id };
}

step("sign in with TikTok on the server (authorize, consent, callback)", async () => {
  await signOut(auth);
  const { code, state, binding, openId } = await authorizeAtTikTok();
  // Without the binding (another browser posting this code and state): refused, and the
  // state stays for its own browser.
  await rejectsWith(api.finishTikTokAuthorization({ code, state }), 400, "invalid_state");
  const result = await api.finishTikTokAuthorization({ code, state, binding });
  assert.ok(result.firebase_token, "signed in: a custom token");
  assert.equal(result.connection.provider_account_id, openId);
  assert.equal(result.connection.sign_in_enabled, true);
  assert.equal(result.full_name, "E2E Consent");
  await signInWithCustomToken(auth, result.firebase_token);
  assert.equal(auth.currentUser?.uid, result.firebase_uid);

  // A state is used once.
  await rejectsWith(api.finishTikTokAuthorization({ code, state, binding }), 400, "invalid_state");
});

step("link TikTok on the server with a session (callback answers no token)", async () => {
  await signInWithEmailAndPassword(auth, user.email, user.password);
  // A link state is bound to the user's session (its binding is sent all the same).
  const { code, state, binding, openId } = await authorizeAtTikTok();
  const result = await api.finishTikTokAuthorization({ code, state, binding });
  assert.equal(result.firebase_token, null, "linked, not signed in");
  assert.equal(result.firebase_uid, user.uid);
  assert.equal(result.connection.provider_account_id, openId);

  const { connections } = await api.listConnections();
  assert.ok(
    connections.some((c) => c.provider_account_id === openId),
    `the linked account is listed: ${JSON.stringify(connections)}`,
  );
});

step("every operation a browser calls was checked against openapi.yaml", async () => {
  const browserOperations = spec.operations.map((op) => op.id).filter((id) => id !== "tiktokWebhook");
  const seen = new Set(spec.checked.map((c) => c.operationId));
  assert.deepEqual(
    browserOperations.filter((id) => !seen.has(id)),
    [],
    "operations this test never called",
  );
});
