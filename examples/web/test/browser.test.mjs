// Drives connect.html in headless Chromium through the whole flow: sign up (Firebase Auth
// emulator), Connect TikTok, the TikTok fake's consent page, back to the page, and the
// connected account shown. Exits non-zero with the reason on any failure.
//
// Needs what scripts/run.sh serves (scripts/test.sh runs it so): the local stack, the API,
// and this page at WEB_BASE_URL with its /config.json.
//
//   CHROMIUM_PATH   default /usr/bin/chromium
//   WEB_BASE_URL    default http://localhost:8080 (connect.html must be a registered redirect URI)
//   SCREENSHOT_DIR  default test-results (connect.png, post-check.png; failed.png on failure)
//   PHOTO_BASE_URL  the local stack's photo host (STACK_PHOTO_URL; https: run node with
//                   NODE_EXTRA_CA_CERTS set to its certificate authority)
//   TIKTOK_URL, LOCAL_WATCH_PORT, STACK_PG_URL  the TikTok fake, the functions' invoke
//                   address (the analytics sync runs there) and the stack's database
//                   (a month of history is seeded for the charts)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const WEB_BASE_URL = (process.env.WEB_BASE_URL || 'http://localhost:8080').replace(/\/$/, '');
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || 'test-results';
const STEP_TIMEOUT = 180_000; // the first call of each function may compile it (a minute or more)

const started = Date.now();
const step = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);

class Failure extends Error {}

// -- the flow ------------------------------------------------------------------------------

// Waits until `check` (run in the page) answers a string, then returns it; the page's
// #error fails the wait at once.
async function waitFor(page, what, check, ...args) {
  const handle = await page
    .waitForFunction(
      (source, ...rest) => {
        const error = document.getElementById('error');
        if (error && !error.hidden && error.textContent.trim()) return `ERROR ${error.textContent.trim()}`;
        return new Function(`return (${source})`)()(...rest) || false;
      },
      { timeout: STEP_TIMEOUT, polling: 250 },
      check.toString(),
      ...args,
    )
    .catch((err) => {
      throw new Failure(`timed out waiting for ${what} (${err.message.split('\n')[0]})`);
    });
  const answer = await handle.jsonValue();
  if (typeof answer === 'string' && answer.startsWith('ERROR ')) {
    throw new Failure(`the page shows an error while waiting for ${what}: ${answer.slice(6)}`);
  }
  return answer;
}

async function run(page, consoleErrors) {
  const suffix = randomBytes(2).toString('hex');
  const email = `web-${randomBytes(6).toString('hex')}@example.com`;
  const displayName = `Creator ${suffix}`;

  step(`open ${WEB_BASE_URL}/connect.html`);
  await page.goto(`${WEB_BASE_URL}/connect.html`, { waitUntil: 'load', timeout: STEP_TIMEOUT }).catch((err) => {
    throw new Failure(`could not open ${WEB_BASE_URL}/connect.html (is scripts/run.sh serving it?): ${err.message}`);
  });
  await waitFor(page, 'the sign-in form', () => {
    const email = document.getElementById('email');
    return email && email.offsetParent !== null && 'ready';
  });

  step(`sign up ${email}`);
  await page.type('#email', email);
  await page.type('#password', `pw-${randomBytes(8).toString('hex')}`);
  await page.click('#sign-up');
  await waitFor(page, 'the signed-in user', (expected) => {
    const shown = document.getElementById('signed-in-as')?.textContent;
    return shown === expected && shown;
  }, email);

  step('click Connect TikTok');
  await Promise.all([
    page.waitForNavigation({ timeout: STEP_TIMEOUT, waitUntil: 'load' }),
    page.click('#connect'),
  ]).catch(async (err) => {
    const error = await page.$eval('#error', (e) => e.textContent).catch(() => '');
    throw new Failure(`Connect did not lead to TikTok: ${error || err.message}`);
  });
  const consentUrl = new URL(page.url());
  if (consentUrl.pathname !== '/v2/auth/authorize/') {
    throw new Failure(`expected the TikTok consent page, landed on ${consentUrl.origin}${consentUrl.pathname}`);
  }
  // TikTok compares a lowercase hex challenge (the fake too, by default).
  const challenge = consentUrl.searchParams.get('code_challenge') ?? '';
  if (!/^[0-9a-f]{64}$/.test(challenge)) {
    throw new Failure(`the PKCE challenge is not TikTok's lowercase hex: ${challenge}`);
  }
  const scopes = await page.$$eval('#scopes code', (items) => items.map((i) => i.textContent));
  step(`on the consent page at ${consentUrl.origin} (scopes: ${scopes.join(', ') || 'none shown'})`);

  step(`authorize as "${displayName}"`);
  await page.$eval('#display_name', (input) => { input.value = ''; });
  await page.type('#display_name', displayName);
  await Promise.all([
    page.waitForNavigation({ timeout: STEP_TIMEOUT, waitUntil: 'load' }),
    page.click('#authorize'),
  ]);
  const back = new URL(page.url());
  if (`${back.origin}${back.pathname}` !== `${WEB_BASE_URL}/connect.html`) {
    throw new Failure(`TikTok's redirect went to ${back.origin}${back.pathname}, not connect.html`);
  }
  if (!back.searchParams.get('code') || !back.searchParams.get('state')) {
    throw new Failure(`the redirect brought no code and state (parameters: ${[...back.searchParams.keys()].join(', ')})`);
  }
  step('back on connect.html with a code and state; waiting for the callback and the account');

  await waitFor(page, `"${displayName}" in the connections and the profile`, (name) => {
    const listed = document.getElementById('connections')?.textContent.includes(name);
    const profile = document.getElementById('profile-name')?.textContent === name;
    return listed && profile && 'shown';
  }, displayName);
  const details = await page.evaluate(() => ({
    connections: [...document.querySelectorAll('#connections li')].map((li) => li.innerText.replace(/\s+/g, ' ').trim()),
    followers: document.getElementById('profile-followers').textContent,
    query: location.search,
  }));
  step(`connected: ${details.connections.join(' | ')}; profile followers: ${details.followers || 'none'}`);
  if (details.query) throw new Failure(`the page kept the redirect's query: ${details.query}`);

  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const shot = join(SCREENSHOT_DIR, 'connect.png');
  await page.screenshot({ path: shot, fullPage: true });
  step(`screenshot ${shot}`);

  await postForm(page, suffix);
  await analytics(page);

  if (consoleErrors.length) {
    throw new Failure(`the page logged errors to the console:\n  ${consoleErrors.join('\n  ')}`);
  }
}

// -- the post form: the API's checks shown next to the field ---------------------------------

// The first bytes of a PNG and of a baseline JPEG at a size: all the checks read.
function pngHeader(width, height) {
  const bytes = Buffer.alloc(33 + 64);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(bytes);
  bytes.write('IHDR', 12, 'latin1');
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  Buffer.from([8, 2, 0, 0, 0]).copy(bytes, 24);
  return bytes;
}

function jpegHeader(width, height) {
  const app0 = [0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof0 = [0xff, 0xc0, 0, 17, 8, height >> 8, height & 255, width >> 8, width & 255,
    3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return Buffer.concat([Buffer.from(app0), Buffer.from(sof0), Buffer.alloc(64), Buffer.from([0xff, 0xd9])]);
}

async function hostPhoto(url, bytes) {
  const put = await fetch(url, { method: 'PUT', body: bytes }).catch((err) => {
    throw new Failure(`the photo host at ${url} cannot be reached (NODE_EXTRA_CA_CERTS set?): ${err.cause?.message || err.message}`);
  });
  if (!put.ok) throw new Failure(`the photo host refused ${url}: ${put.status}`);
  return url;
}

async function postForm(page, suffix) {
  const base = (process.env.PHOTO_BASE_URL || '').replace(/\/$/, '');
  if (!base) throw new Failure('PHOTO_BASE_URL is not set (the stack\'s STACK_PHOTO_URL)');
  const jpeg = await hostPhoto(`${base}/photos/web-${suffix}.jpg`, jpegHeader(800, 600));
  const png = await hostPhoto(`${base}/photos/web-${suffix}.png`, pngHeader(800, 800));

  step('post form: the privacy options come from creator-info');
  await waitFor(page, 'the post form with the creator\'s privacy options', () => {
    const options = document.querySelectorAll('#privacy option');
    return !document.getElementById('post').hidden && options.length > 1 && 'ready';
  });
  await page.type('#photo-urls', `${jpeg}\n${png}`);
  await page.type('#post-title', 'Checked before Thursday');
  await page.select('#privacy', 'SELF_ONLY');

  step('check: a PNG is refused, and the problem is shown under the photos');
  await page.click('#check-post');
  const problem = await waitFor(page, 'the photo problem under the photos field', () => {
    const list = document.querySelector('.problems[data-field="source.photo_urls"]');
    const text = list?.textContent || '';
    return text.includes('photo_format') && text;
  });
  if (!problem.startsWith('Photo 2:')) throw new Failure(`the problem does not name the photo: ${problem}`);
  const shot = join(SCREENSHOT_DIR, 'post-check.png');
  await page.screenshot({ path: shot, fullPage: true });
  step(`problem shown: "${problem}"; screenshot ${shot}`);

  step('without the PNG: no problem, then scheduled');
  await page.$eval('#photo-urls', (input) => { input.value = ''; });
  await page.type('#photo-urls', jpeg);
  await page.click('#check-post');
  await waitFor(page, 'no problem', () => {
    const status = document.getElementById('status').textContent;
    const shown = document.querySelectorAll('#post-form .problems li:not(.note)').length;
    return status.startsWith('No problems') && shown === 0 && status;
  });
  await page.click('#schedule-post');
  const scheduled = await waitFor(page, 'the post scheduled', () => {
    const status = document.getElementById('status').textContent;
    return status.startsWith('Scheduled for') && status;
  });
  step(scheduled);
}

// -- analytics: the sync's history as charts -------------------------------------------------

async function analytics(page) {
  const { TIKTOK_URL, LOCAL_WATCH_PORT, STACK_PG_URL } = process.env;
  if (!TIKTOK_URL || !LOCAL_WATCH_PORT || !STACK_PG_URL) {
    throw new Failure('TIKTOK_URL, LOCAL_WATCH_PORT and STACK_PG_URL are needed for the analytics charts');
  }
  const openId = await page.$eval('#analytics', (e) => e.dataset.accountId);
  step('analytics: the account posts five videos at TikTok; the sync runs');
  const now = Math.floor(Date.now() / 1000);
  const made = await fetch(`${TIKTOK_URL}/_fake/videos`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ open_id: openId, count: 5, newest: now - 20 * 3600, title: 'Thursday recipe' }),
  });
  if (!made.ok) throw new Failure(`the TikTok fake made no videos: ${made.status}`);
  const synced = await fetch(`http://127.0.0.1:${LOCAL_WATCH_PORT}/2015-03-31/functions/sync-analytics/invocations`, {
    method: 'POST',
    body: '{}',
  });
  const summary = await synced.text();
  if (!synced.ok) throw new Failure(`sync-analytics failed: ${synced.status} ${summary}`);
  step(`synced: ${summary}`);
  // A month of the account's history and the newest video's first day, as earlier syncs
  // would have kept them (the sync keeps today's; the days before are seeded).
  const account = `(select id from social_connections where provider_account_id = '${openId.replaceAll("'", "''")}')`;
  // Followers grow to today's (the sync's point) over the month; the top video's first
  // day is hourly, rising to 90% of the totals the sync read since.
  const seed = `
    select ensure_tiktok_analytics_partitions(now() - interval '40 days', now());
    insert into tiktok_account_snapshots (connection_id, day, followers, following, likes, videos, captured_at)
    select s.connection_id, current_date - d, round(s.followers * (1 - d * d / 1400.0) - (d % 3) * 4),
           s.following, round(s.likes * (1 - d / 60.0)), s.videos, now() - d * interval '1 day'
    from tiktok_account_snapshots s, generate_series(1, 30) d
    where s.connection_id = ${account} and s.day = current_date
    on conflict do nothing;
    insert into tiktok_video_snapshots (connection_id, video_id, bucket, hourly, views, likes, captured_at)
    select v.connection_id, v.video_id, date_trunc('hour', v.create_time) + make_interval(hours => h), true,
           round(0.9 * v.views * (1 - exp(-h / 5.0)))::bigint, round(0.9 * coalesce(v.likes, 0) * (1 - exp(-h / 5.0)))::bigint,
           date_trunc('hour', v.create_time) + make_interval(hours => h, mins => 30)
    from (select connection_id, video_id, create_time, views, likes from tiktok_videos
          where connection_id = ${account} order by views desc nulls last limit 1) v,
         generate_series(1, 23) h
    where date_trunc('hour', v.create_time) + make_interval(hours => h, mins => 30) < now() - interval '5 minutes'
    on conflict do nothing;`;
  execFileSync('psql', [STACK_PG_URL, '-q', '-v', 'ON_ERROR_STOP=1', '-c', seed], { stdio: 'pipe' });
  await page.reload({ waitUntil: 'load' });
  await waitFor(page, 'both charts drawn', () => {
    const drawn = (id) => document.querySelector(`#${id} canvas`) !== null;
    const videos = document.querySelectorAll('#top-videos li[data-video-id]').length;
    return drawn('followers-chart') && drawn('views-chart') && videos === 5 && `${videos} videos`;
  });
  const notes = await page.evaluate(() => [document.getElementById('followers-note').textContent,
    document.getElementById('views-note').textContent]);
  if (!notes[0].includes('Synced') || !notes[1].includes('Synced')) {
    throw new Failure(`the charts do not say how fresh they are: ${notes.join(' / ')}`);
  }
  const shot = join(SCREENSHOT_DIR, 'analytics.png');
  const section = await page.$('#analytics');
  await section.screenshot({ path: shot });
  step(`charts drawn (${notes.join(' / ')}); screenshot ${shot}`);
}

async function main() {
  step(`launch ${CHROMIUM_PATH}`);
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--headless=new'],
    headless: true,
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 900 });
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT);

  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(`${message.text()} (${message.location()?.url || page.url()})`);
    }
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));

  // Profile pictures are on TikTok's CDN, out of reach here: answer them with a placeholder
  // (a failed image load would be a console error).
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    const { hostname } = new URL(request.url());
    if (request.resourceType() === 'image' && /(^|\.)tiktokcdn\.com$/.test(hostname)) {
      return request.respond({
        status: 200,
        contentType: 'image/svg+xml',
        body: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#25f4ee"/>'
          + '<circle cx="32" cy="26" r="12" fill="#fff"/><rect x="14" y="42" width="36" height="22" rx="11" fill="#fff"/></svg>',
      });
    }
    return request.continue();
  });

  let failed = false;
  try {
    await run(page, consoleErrors);
    step('PASS: signed up, connected TikTok through the consent page, account shown, a post checked and scheduled, analytics charted');
  } catch (err) {
    failed = true;
    console.error(`FAIL: ${err instanceof Failure ? err.message : err.stack || err}`);
    console.error(`  at ${page.url()}`);
    if (consoleErrors.length) console.error(`  console errors:\n    ${consoleErrors.join('\n    ')}`);
    try {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'failed.png'), fullPage: true });
      console.error(`  screenshot ${join(SCREENSHOT_DIR, 'failed.png')}`);
    } catch {
      // the browser may be gone
    }
  } finally {
    await browser.close().catch(() => {});
  }
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(`FAIL: ${err.stack || err}`);
  process.exit(1);
});
