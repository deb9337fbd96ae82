// The connect page: a Firebase session (email and password; the Auth emulator locally),
// then TikTok's authorization through the API. The server keeps the PKCE verifier and
// TikTok's tokens; the page only ever sees the state and the one-time code.
import { initializeApp } from 'firebase/app';
import {
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  getAuth,
  onAuthStateChanged,
  signInWithEmailAndPassword,
  signOut,
} from 'firebase/auth';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

// sessionStorage: the state the redirect must bring back, and the binding the callback
// must carry (never in a URL: it proves this browser started the authorization).
const STATE_KEY = 'tiktok-connect-state';
// What the page asks TikTok for: the profile and videos, and posting (creator-info too).
const SCOPES = ['user.info.basic', 'user.info.profile', 'user.info.stats', 'video.list', 'video.publish', 'video.upload'];
const $ = (id) => document.getElementById(id);

let config; // /config.json: apiBaseUrl, authEmulatorUrl, projectId, apiKey
let auth;

// -- messages ---------------------------------------------------------------------------

function setStatus(text) {
  $('status').textContent = text || '';
}

// Shows an error as `code: detail` (the API's error body; Firebase's own errors and TikTok's
// redirect errors are put the same way).
function showError(err) {
  const text = err instanceof TypeError && /fetch/i.test(err.message)
    ? `network_error: the API at ${config?.apiBaseUrl} could not be reached`
    : err.code && err.detail !== undefined ? `${err.code}: ${err.detail}`
    : err.code ? `${err.code}: ${firebaseDetail(err.message)}`
    : err.message || String(err);
  $('error').textContent = text;
  $('error').hidden = false;
  setStatus('');
}

// Firebase's messages read "Firebase: <detail> (auth/<code>)."; the code is shown already.
function firebaseDetail(message) {
  const detail = String(message).replace(/^Firebase:\s*/, '').replace(/\s*\([\w/-]+\)\.?$/, '');
  return detail && detail !== 'Error' ? detail : 'Firebase Auth refused the request';
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

// An error the page makes itself, shown like the API's.
function pageError(code, detail) {
  return Object.assign(new Error(`${code}: ${detail}`), { code, detail });
}

// -- the API ----------------------------------------------------------------------------

// Calls the API with the Firebase session; a non-2xx answer throws the error body
// ({code, detail, status_code, request_id}).
async function api(method, path, body) {
  const headers = {};
  if (auth.currentUser) headers.Authorization = `Bearer ${await auth.currentUser.getIdToken()}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(config.apiBaseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw data?.code
      ? pageError(data.code, data.detail)
      : pageError(`http_${response.status}`, `${method} ${path} answered ${response.status}`);
  }
  return data;
}

// -- TikTok -----------------------------------------------------------------------------

// Starts TikTok's authorization: the API answers TikTok's consent page URL and the state
// to check when TikTok sends the browser back here.
async function connectTikTok() {
  clearError();
  $('connect').disabled = true;
  setStatus('Opening TikTok…');
  try {
    const started = await api('POST', '/api/v1/auth/tiktok/authorize', {
      redirect_uri: location.origin + location.pathname, // must be one of the app's redirect URIs
      scopes: SCOPES,
    });
    sessionStorage.setItem(STATE_KEY, JSON.stringify({ state: started.state, binding: started.binding }));
    location.assign(started.authorize_url);
  } catch (err) {
    showError(err);
    $('connect').disabled = false;
  }
}

// TikTok sent the browser back with ?code&scopes&state, or ?error&error_description&state.
async function finishRedirect(params, user) {
  const kept = JSON.parse(sessionStorage.getItem(STATE_KEY) || 'null');
  const expected = kept && kept.state;
  // A state is good for one redirect (a forged one ends it too: connect again).
  sessionStorage.removeItem(STATE_KEY);
  try {
    // The state proves this redirect answers an authorization this browser started: only
    // then is anything in it (TikTok's error included) believed.
    if (!expected || params.get('state') !== expected) {
      throw pageError('state_mismatch', 'this TikTok redirect was not started from this browser; connect again');
    }
    if (params.has('error')) {
      throw pageError(params.get('error'), params.get('error_description') || 'TikTok did not authorize the app');
    }
    if (!user) throw pageError('unauthorized', 'sign in, then connect TikTok again');
    setStatus('Connecting your TikTok account…');
    const result = await api('POST', '/api/v1/auth/tiktok/callback', {
      code: params.get('code'),
      state: params.get('state'),
      binding: kept.binding,
    });
    const c = result.connection;
    setStatus(`Connected ${c.display_name || c.provider_account_id}.`);
  } catch (err) {
    showError(err);
  } finally {
    history.replaceState(null, '', location.pathname); // the code is used: drop it from the URL
  }
}

// Lists the user's connections and shows the profile of the primary (else first) TikTok one.
async function refresh(user) {
  const { connections } = await api('GET', '/api/v1/social-connections/connections');
  if (auth.currentUser !== user) return; // signed out (or in as someone else) meanwhile
  const list = $('connections');
  list.replaceChildren();
  for (const c of connections) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = c.display_name || c.provider_account_id;
    const status = badge(c.status, c.status === 'active' ? 'active' : '');
    item.append(name, status);
    if (c.is_primary) item.append(badge('primary', 'primary'));
    list.append(item);
  }
  if (!connections.length) {
    list.innerHTML = '<li class="empty">None yet</li>';
  }

  const tiktok = connections.filter((c) => c.provider === 'tiktok');
  const account = tiktok.find((c) => c.is_primary) || tiktok[0];
  await preparePost(account, user);
  await showAnalytics(account, user).catch(showError);
  $('profile').hidden = !account;
  if (!account) return;
  const profile = await api(
    'GET',
    `/api/v1/social-connections/tiktok/profile?account_id=${encodeURIComponent(account.provider_account_id)}`,
  );
  if (auth.currentUser !== user) return;
  $('profile-name').textContent = profile.display_name || profile.username || profile.open_id;
  $('profile-followers').textContent = profile.follower_count == null
    ? ''
    : `${profile.follower_count.toLocaleString()} followers`;
  const avatar = $('profile-avatar');
  avatar.hidden = !profile.avatar_url;
  if (profile.avatar_url) avatar.src = profile.avatar_url;
}

// -- analytics --------------------------------------------------------------------------

const charts = {}; // element id -> the uPlot chart shown there

// A line chart of `points` ([unix seconds, value]) in the element `id`, replacing the last.
function drawChart(id, label, points, stroke) {
  charts[id]?.destroy();
  const element = $(id);
  element.replaceChildren();
  if (!points.length) return;
  const data = [points.map((p) => p[0]), points.map((p) => p[1])];
  charts[id] = new uPlot({
    width: element.clientWidth || 480,
    height: 200,
    series: [{}, { label, stroke, width: 2, points: { show: points.length < 40 } }],
    axes: [{}, { size: 60 }],
    legend: { show: false },
  }, data, element);
}

// How old a number is, as the API says it (synced_at, next_sync_at).
function freshness(synced, next) {
  const at = (t) => new Date(t).toLocaleString();
  if (!synced) return 'Not synced yet';
  return `Synced ${at(synced)}${next ? `, next ${at(next)}` : ''}`;
}

// The account's followers by day, its videos of the last 30 days by views, and the views
// of the one chosen (the first at start).
async function showAnalytics(account, user) {
  $('analytics').hidden = !account;
  if (!account) return;
  $('analytics').dataset.accountId = account.provider_account_id;
  const id = encodeURIComponent(account.provider_account_id);
  const base = '/api/v1/social-connections/tiktok/analytics';
  const [series, videos] = await Promise.all([
    api('GET', `${base}/account?account_id=${id}`),
    api('GET', `${base}/videos?account_id=${id}&sort=views&limit=5`),
  ]);
  if (auth.currentUser !== user) return;
  $('followers-note').textContent = series.unavailable
    ? `No new stats: ${series.unavailable.replaceAll('_', ' ')}`
    : `Followers by day. ${freshness(series.synced_at, series.next_sync_at)}`;
  drawChart('followers-chart', 'followers',
    series.series.filter((p) => p.followers != null)
      .map((p) => [Date.parse(`${p.date}T00:00:00Z`) / 1000, p.followers]), '#fe2c55');
  const list = $('top-videos');
  list.replaceChildren();
  for (const video of videos.videos) {
    const item = document.createElement('li');
    item.dataset.videoId = video.video_id;
    const title = document.createElement('span');
    title.textContent = video.title || video.description || video.video_id;
    const views = document.createElement('span');
    views.textContent = `${(video.views ?? 0).toLocaleString()} views`
      + (video.velocity == null ? '' : ` · ${video.velocity.toFixed(1)}× usual`);
    item.append(title, views);
    item.addEventListener('click', () => showVideo(account, video.video_id).catch(showError));
    list.append(item);
  }
  if (!videos.videos.length) list.innerHTML = '<li class="empty">None yet</li>';
  if (videos.videos[0]) await showVideo(account, videos.videos[0].video_id);
}

async function showVideo(account, videoId) {
  const found = await api(
    'GET',
    `/api/v1/social-connections/tiktok/analytics/videos/${encodeURIComponent(videoId)}`
      + `?account_id=${encodeURIComponent(account.provider_account_id)}`,
  );
  for (const item of $('top-videos').children) {
    item.classList.toggle('chosen', item.dataset.videoId === videoId);
  }
  $('views-note').textContent = `Views of "${found.video.title || videoId}": hourly in its first day, then daily. `
    + freshness(found.synced_at, found.next_sync_at);
  drawChart('views-chart', 'views',
    found.series.filter((p) => p.views != null).map((p) => [Date.parse(p.at) / 1000, p.views]), '#25f4ee');
}

// -- posting ----------------------------------------------------------------------------

let posting = null; // the TikTok account posts go to

// The post form for an account: its privacy options from creator-info, fresh each time
// (TikTok's audit: the user chooses, there is no default).
async function preparePost(account, user) {
  posting = account;
  $('post').hidden = !account;
  if (!account) return;
  const info = await api(
    'GET',
    `/api/v1/social-connections/tiktok/creator-info?account_id=${encodeURIComponent(account.provider_account_id)}`,
  ).catch(() => null);
  if (auth.currentUser !== user) return;
  const select = $('privacy');
  select.replaceChildren(new Option('Choose who can see it', ''));
  for (const level of info?.privacy_level_options || ['SELF_ONLY']) {
    select.append(new Option(level.toLowerCase().replaceAll('_', ' '), level));
  }
}

function postBody(dryRun) {
  const at = $('post-at').value ? new Date($('post-at').value) : new Date(Date.now() + 3600_000);
  const body = {
    account_id: posting.provider_account_id,
    mode: 'direct',
    source: {
      type: 'photos',
      photo_urls: $('photo-urls').value.split('\n').map((u) => u.trim()).filter(Boolean),
    },
    post_info: { title: $('post-title').value, privacy_level: $('privacy').value || undefined },
    scheduled_at: at.toISOString(),
  };
  if (dryRun) body.dry_run = true;
  return body;
}

// Lists each problem under its field (`source.photo_urls[1]` under the photos, with the
// photo's number), and what could not be checked as notes.
function showProblems(problems, unchecked = []) {
  for (const list of document.querySelectorAll('#post-form .problems')) list.replaceChildren();
  const lists = [...document.querySelectorAll('#post-form .problems')];
  const listFor = (field) => lists.find((l) => l.dataset.field && (field || '').startsWith(l.dataset.field))
    || lists.find((l) => l.dataset.field === '');
  const item = (field, text, note) => {
    const li = document.createElement('li');
    if (note) li.className = 'note';
    const index = /\[(\d+)\]$/.exec(field || '');
    li.textContent = index ? `Photo ${Number(index[1]) + 1}: ${text}` : text;
    listFor(field).append(li);
  };
  for (const p of problems) item(p.field, `${p.code}: ${p.detail}`, false);
  for (const u of unchecked) item(u.field, `not checked: ${u.reason}`, true);
}

// A dry run: every check, nothing stored or sent.
async function checkPost(event) {
  event?.preventDefault();
  clearError();
  setStatus('Checking…');
  try {
    const checked = await api('POST', '/api/v1/social-connections/tiktok/posts', postBody(true));
    showProblems(checked.problems, checked.unchecked);
    setStatus(checked.ok ? 'No problems: TikTok should take this post.' : 'TikTok would refuse this post.');
    return checked.ok;
  } catch (err) {
    showProblems([{ code: err.code, detail: err.detail, field: null }]);
    setStatus('');
    return false;
  }
}

async function schedulePost() {
  if (!(await checkPost())) return;
  try {
    const post = await api('POST', '/api/v1/social-connections/tiktok/posts', postBody(false));
    setStatus(`Scheduled for ${new Date(post.scheduled_at).toLocaleString()} (${post.status}).`);
  } catch (err) {
    showError(err);
  }
}

function badge(text, kind) {
  const span = document.createElement('span');
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

// -- Firebase session -------------------------------------------------------------------

async function onAuthForm(event) {
  event.preventDefault();
  clearError();
  const email = $('email').value.trim();
  const password = $('password').value;
  const signUp = event.submitter?.id === 'sign-up';
  for (const id of ['sign-in', 'sign-up']) $(id).disabled = true;
  setStatus(signUp ? 'Creating your account…' : 'Signing in…');
  try {
    if (signUp) await createUserWithEmailAndPassword(auth, email, password);
    else await signInWithEmailAndPassword(auth, email, password);
    $('password').value = '';
  } catch (err) {
    showError(err);
  } finally {
    for (const id of ['sign-in', 'sign-up']) $(id).disabled = false;
  }
}

function render(user) {
  $('auth-form').hidden = !!user;
  $('signed-in').hidden = !user;
  $('signed-in-as').textContent = user ? user.email || user.uid : '';
  $('tiktok').hidden = !user;
  $('connect').disabled = false;
  if (!user) {
    $('profile').hidden = true;
    $('post').hidden = true;
    $('analytics').hidden = true;
    $('connections').innerHTML = '<li class="empty">None yet</li>';
  }
}

async function main() {
  try {
    const response = await fetch('/config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error(`/config.json answered ${response.status}`);
    config = await response.json();
  } catch (err) {
    showError(pageError('config_unavailable', `could not load /config.json (${err.message})`));
    return;
  }
  const app = initializeApp({ apiKey: config.apiKey, projectId: config.projectId });
  auth = getAuth(app);
  if (config.authEmulatorUrl) {
    connectAuthEmulator(auth, config.authEmulatorUrl, { disableWarnings: true });
  }

  // TikTok's redirect parameters, handled once the session is known.
  const query = new URLSearchParams(location.search);
  let redirect = query.has('code') || query.has('error') ? query : null;

  $('auth-form').addEventListener('submit', onAuthForm);
  $('sign-out').addEventListener('click', () => signOut(auth).catch(showError));
  $('connect').addEventListener('click', connectTikTok);
  $('post-form').addEventListener('submit', checkPost);
  $('schedule-post').addEventListener('click', schedulePost);

  // First called once Firebase has restored the session (from IndexedDB after TikTok's
  // redirect), then on every sign-in and sign-out.
  onAuthStateChanged(auth, async (user) => {
    render(user);
    if (redirect) {
      const params = redirect;
      redirect = null;
      await finishRedirect(params, user);
    }
    if (user) await refresh(user).catch(showError);
  });
}

main();
