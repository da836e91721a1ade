// Floods for the red-team re-run (adapted from the review's t_*.js). Node 20, built-ins only.
//
//   node flood.mjs ISS MODE SECS CONC [ARGS...]
//
// MODE:
//   authorize QUERY XFF [keep]   anonymous GET /authorize; QUERY = review | max | plain;
//                                XFF = none | rotate | <ip>; keep = one browser cookie throughout
//   login FILE XFF               POST /login wrong passwords for random addresses with the
//                                tx/csrf/cookie in FILE (JSON)
//   signup XFF                   full anonymous sign-up cycles (authorize, page, POST /signup)
//   logout FILE                  POST /logout with the cookie and confirm token in FILE
//   sso FILE                     GET /authorize with the SSO cookies in FILE
//   clientauth CLIENT XFF        POST /token client_credentials with a wrong Basic secret
//   rotate FILE                  refresh-token rotation, one chain per token in FILE
//
// XFF rotate: every request from a new address in 100.64.0.0/10 (the servers trust
// X-Forwarded-For from 127.0.0.1, so this stands for a botnet).
// Prints one JSON line: {"n", "codes", "rate", ...}.
import { readFileSync } from 'node:fs';
import { createHash, randomBytes, randomInt } from 'node:crypto';

const [ISS, MODE, SECS, CONC, ...ARGS] = process.argv.slice(2);
const secs = +SECS, conc = +CONC;
const RP = 'http://127.0.0.1:39999/callback';
const b64u = (b) => b.toString('base64url');
let ipCounter = randomInt(0, 1 << 22);
const xffOf = (mode) => {
  if (!mode || mode === 'none') return {};
  if (mode !== 'rotate') return { 'x-forwarded-for': mode };
  const k = (ipCounter++) & ((1 << 22) - 1);
  return { 'x-forwarded-for': `100.${64 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}` };
};
const cookieOf = (res) => (res.headers.getSetCookie?.() || []).map((c) => c.split(';')[0]).join('; ');
const challenge = () => { const v = b64u(randomBytes(32)); return [v, b64u(createHash('sha256').update(v).digest())]; };

let n = 0; const codes = {}; const extra = {};
const count = (k) => { codes[k] = (codes[k] || 0) + 1; n++; };
const end = Date.now() + secs * 1000;

function authorizeQuery(kind) {
  const [, ch] = challenge();
  const base = `client_id=customers-web&redirect_uri=${encodeURIComponent(RP)}&response_type=code&scope=openid&code_challenge=${ch}&code_challenge_method=S256`;
  if (kind === 'review') { // the review's query: 7.7 KB, 5.5 KB of it non-OAuth parameters
    const pad = 'A'.repeat(2000);
    return base + `&state=${pad}&x1=${pad}&x2=${pad}&x3=${'A'.repeat(1500)}`;
  }
  if (kind === 'max') { // the largest accepted: state 2 KiB + 2 KiB of other parameters
    return base + `&state=${'S'.repeat(2000)}&nonce=${'N'.repeat(200)}&x1=${'A'.repeat(1000)}&x2=${'B'.repeat(1000)}`;
  }
  return base + '&state=s';
}

// 303 to the login form (a transaction was parked) or back to the client with an error.
const where = (r) => {
  const loc = r.headers.get('location') || '';
  if (r.status !== 303) return r.status;
  if (loc.startsWith('/login') || loc.startsWith('/signup')) return '303-form';
  const e = /[?&]error=([^&]+)/.exec(loc);
  return e ? `303-error=${e[1]}` : '303-other';
};

async function authorizeWorker(kind, xff, keep, shared) {
  while (Date.now() < end) {
    const headers = { ...xffOf(xff) };
    if (keep && shared.cookie) headers.cookie = shared.cookie;
    const r = await fetch(`${ISS}/authorize?${authorizeQuery(kind)}`, { redirect: 'manual', headers });
    await r.arrayBuffer();
    if (keep && !shared.cookie) { const c = cookieOf(r); if (c) shared.cookie = c; }
    count(where(r));
  }
}

async function loginWorker(w, file, xff) {
  const a = JSON.parse(readFileSync(file));
  let i = 0;
  while (Date.now() < end) {
    const body = new URLSearchParams({ tx: a.tx, csrf: a.csrf, email: `sp${w}-${i++}-${randomInt(1e9)}@example.com`, password: 'Summer2026!x-wrong' });
    const r = await fetch(`${ISS}/login`, { method: 'POST', redirect: 'manual', headers: { cookie: a.cookie, ...xffOf(xff), 'content-type': 'application/x-www-form-urlencoded' }, body });
    await r.arrayBuffer(); count(r.status);
  }
}

async function signupWorker(w, xff) {
  let i = 0;
  while (Date.now() < end) {
    const h = xffOf(xff);
    try {
      const [, ch] = challenge();
      const q = `client_id=customers-web&redirect_uri=${encodeURIComponent(RP)}&response_type=code&scope=openid&code_challenge=${ch}&code_challenge_method=S256&screen_hint=signup`;
      const a = await fetch(`${ISS}/authorize?${q}`, { redirect: 'manual', headers: h });
      await a.arrayBuffer();
      const cookie = cookieOf(a); const loc = a.headers.get('location');
      if (!loc || !loc.startsWith('/')) { count('authorize-' + a.status); continue; }
      const page = await (await fetch(`${ISS}${loc}`, { headers: { cookie, ...h } })).text();
      const tx = /name="tx" value="([^"]+)"/.exec(page)?.[1], csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
      if (!tx) { count('page'); continue; }
      const r = await fetch(`${ISS}/signup`, { method: 'POST', redirect: 'manual', headers: { cookie, ...h, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ tx, csrf, email: `flood${w}-${i++}-${Date.now()}-${randomInt(1e6)}@example.com`, password: 'Flood-horse-battery-staple-42' }) });
      await r.arrayBuffer(); count(r.status);
    } catch (e) { count('error'); }
  }
}

async function logoutWorker(file) {
  const a = JSON.parse(readFileSync(file));
  while (Date.now() < end) {
    const r = await fetch(`${ISS}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: a.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `confirm=${a.confirm}` });
    await r.arrayBuffer(); count(r.status);
  }
}

async function ssoWorker(file) {
  const a = JSON.parse(readFileSync(file));
  while (Date.now() < end) {
    const [, ch] = challenge();
    const q = `client_id=customers-web&redirect_uri=${encodeURIComponent(RP)}&response_type=code&scope=openid&code_challenge=${ch}&code_challenge_method=S256&signup_source=${'A'.repeat(60)}`;
    const r = await fetch(`${ISS}/authorize?${q}`, { redirect: 'manual', headers: { cookie: a.cookie } });
    await r.arrayBuffer();
    const loc = r.headers.get('location') || '';
    count(loc.includes('code=') ? 'code' : r.status);
  }
}

async function clientauthWorker(client, xff) {
  const auth = 'Basic ' + Buffer.from(`${client}:wrong-guess-${randomInt(1e9)}`).toString('base64');
  while (Date.now() < end) {
    const r = await fetch(`${ISS}/token`, { method: 'POST', headers: { authorization: auth, ...xffOf(xff), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    await r.arrayBuffer(); count(r.status);
  }
}

async function rotateWorker(a, token) {
  let rt = token;
  while (Date.now() < end) {
    const r = await fetch(`${ISS}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: a.client_id }) });
    const j = await r.json();
    count(r.status);
    if (!j.refresh_token) break;
    rt = j.refresh_token;
  }
}

const t0 = Date.now();
const workers = [];
if (MODE === 'authorize') {
  const shared = {};
  if (ARGS[2] === 'keep') { // mint the one browser cookie first
    const r = await fetch(`${ISS}/authorize?${authorizeQuery(ARGS[0])}`, { redirect: 'manual', headers: xffOf(ARGS[1]) });
    await r.arrayBuffer(); shared.cookie = cookieOf(r); count(where(r));
  }
  for (let w = 0; w < conc; w++) workers.push(authorizeWorker(ARGS[0], ARGS[1], ARGS[2] === 'keep', shared));
  extra.query_bytes = authorizeQuery(ARGS[0]).length;
} else if (MODE === 'login') {
  for (let w = 0; w < conc; w++) workers.push(loginWorker(w, ARGS[0], ARGS[1]));
} else if (MODE === 'signup') {
  for (let w = 0; w < conc; w++) workers.push(signupWorker(w, ARGS[0]));
} else if (MODE === 'logout') {
  for (let w = 0; w < conc; w++) workers.push(logoutWorker(ARGS[0]));
} else if (MODE === 'sso') {
  for (let w = 0; w < conc; w++) workers.push(ssoWorker(ARGS[0]));
} else if (MODE === 'clientauth') {
  for (let w = 0; w < conc; w++) workers.push(clientauthWorker(ARGS[0], ARGS[1]));
} else if (MODE === 'rotate') {
  const a = JSON.parse(readFileSync(ARGS[0]));
  for (const t of a.refresh_tokens) workers.push(rotateWorker(a, t));
} else {
  console.error('unknown mode', MODE); process.exit(2);
}
await Promise.all(workers);
const took = (Date.now() - t0) / 1000;
console.log(JSON.stringify({ n, codes, rate: +(n / took).toFixed(1), secs: +took.toFixed(2), ...extra }));
