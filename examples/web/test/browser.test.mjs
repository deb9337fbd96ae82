// Drives connect.html in headless Chromium through the whole flow: sign up (Firebase Auth
// emulator), Connect TikTok, the TikTok fake's consent page, back to the page, and the
// connected account shown. Exits non-zero with the reason on any failure.
//
// Needs what scripts/run.sh serves (scripts/test.sh runs it so): the local stack, the API,
// and this page at WEB_BASE_URL with its /config.json.
//
//   CHROMIUM_PATH   default /usr/bin/chromium
//   WEB_BASE_URL    default http://localhost:8080 (connect.html must be a registered redirect URI)
//   SCREENSHOT_DIR  default test-results (connect.png; failed.png on failure)
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

  if (consoleErrors.length) {
    throw new Failure(`the page logged errors to the console:\n  ${consoleErrors.join('\n  ')}`);
  }
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
    step('PASS: signed up, connected TikTok through the consent page, account shown');
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
