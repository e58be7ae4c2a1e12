// The web UI in a real headless Chromium (Debian's), driven by Playwright.
// Started by tests/browser_test.cc, which prepares the archive, the users and a
// Dovecot mailbox, runs `mailvault serve`, and passes everything in MV_*
// environment variables. Exit status 0 when every check held; each failure is
// printed. Screenshots of every page go to MV_ARTIFACTS.
//
// XSS: every dialog (alert/confirm/prompt opened by anything but our own
// confirm() on "Remove") and every uncaught page error fails the run. Console
// errors are collected; those that report content blocked by the sandbox or
// the Content-Security-Policy are the defence working and are only logged,
// any other console error fails the run.
import fs from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const { chromium } = await import(env('MV_PLAYWRIGHT'));
const base = env('MV_URL');
const artifacts = env('MV_ARTIFACTS');
fs.mkdirSync(artifacts, { recursive: true });

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};
const dialogs = [];
const pageErrors = [];
const consoleErrors = [];
const blocked = [];
const httpErrors = [];
let expectConfirm = false;

const browser = await chromium.launch({
  executablePath: process.env.MV_CHROMIUM || '/usr/bin/chromium',
  args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
});
const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const watch = (p) => {
  p.on('dialog', async (dialog) => {
    if (expectConfirm && dialog.type() === 'confirm') {
      await dialog.accept();
      return;
    }
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  p.on('pageerror', (error) => pageErrors.push(String(error)));
  p.on('response', async (response) => {
    if (response.url().startsWith(base) && response.status() >= 400) {
      const body = await response.text().catch(() => '');
      httpErrors.push(`${response.status()} ${response.request().method()} ${response.url().slice(base.length)} ${body.slice(0, 200)}`);
    }
  });
  p.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (/Content Security Policy|sandboxed|Blocked script execution|Refused to/i.test(text)) blocked.push(text);
    // HTTP failures are judged from the responses below (a 401 before login is expected).
    else if (/^Failed to load resource/.test(text)) return;
    else consoleErrors.push(text);
  });
};
watch(page);
const shot = async (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

async function login(user, password) {
  await page.goto(`${base}/#/search`);
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('#bar:not([hidden])');
}

async function search(query) {
  // Through the empty search page first: going to the URL already shown is no
  // navigation, and the previous result count would be read again.
  await page.goto(`${base}/#/search`);
  await page.waitForSelector('#result-count', { state: 'detached' });
  await page.goto(`${base}/#/search?q=${encodeURIComponent(query)}`);
  await page.waitForSelector('#result-count, section[aria-label=Results] .error');
  const count = await page.textContent('#result-count').catch(() => '0');
  return parseInt(count.replace(/[^0-9]/g, ''), 10) || 0;
}

try {
  // Log in: a wrong password is refused, the right one opens the UI.
  await page.goto(`${base}/`);
  await page.waitForSelector('#login-user');
  await shot('01-login');
  await page.fill('#login-user', env('MV_ADMIN_USER'));
  await page.fill('#login-password', 'not the password');
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('form.login .error');
  check(await page.isVisible('form.login .error'), 'a wrong password is refused with a message');
  await login(env('MV_ADMIN_USER'), env('MV_ADMIN_PASSWORD'));
  check((await page.textContent('#who')).includes('admin'), 'logged in as admin');

  // Search with highlighted snippets; hostile subjects stay text.
  const hits = await search('xsstoken');
  check(hits >= 4, `search finds the hostile messages (${hits})`);
  check((await page.locator('.snippet mark').count()) > 0, 'snippets highlight the matched word');
  const resultsText = await page.textContent('.results');
  check(resultsText.includes('<script>alert("subject")</script>'), 'a subject with <script> is shown as text');
  check(resultsText.includes("<img src=x onerror=alert('enc')>"), 'an encoded-word subject decoding to markup is shown as text');
  check(await page.locator('.results script, .results img').count() === 0, 'no element was made from a subject');
  await shot('02-search');
  await page.click('details.help summary');
  check(await page.isVisible('details.help code'), 'the query syntax help opens');

  // The hostile HTML message: sandboxed frame, remote content only on request.
  await page.click('.result a.subject:has-text("Invoice xsstoken with HTML")');
  await page.waitForSelector('#message-subject');
  const frame = page.locator('iframe.html-body');
  await frame.waitFor();
  check((await frame.getAttribute('sandbox')) === '', 'the HTML body is in a frame with sandbox=""');
  const inner = page.frameLocator('iframe.html-body');
  await inner.locator('h1').waitFor();
  check((await inner.locator('h1').textContent()) === 'Invoice', 'the HTML body renders');
  const trackerLoaded = await inner.locator('img[alt=tracker]').evaluate((img) => img.naturalWidth > 0);
  check(!trackerLoaded, 'the remote image is not loaded by default');
  await inner.locator('a:has-text("here")').click({ timeout: 3000 }).catch(() => {});
  await shot('03-message-html');
  await page.click('#show-remote');
  await page.locator('iframe.html-body').waitFor();
  check((await page.getAttribute('iframe.html-body', 'src')).includes('remote=1'), 'show remote content reloads the frame with remote=1');
  await page.click('.tabs button:has-text("Text")');
  check((await page.textContent('#message-text')).includes('See the HTML part'), 'the text view shows the plain part');

  // The attachment with a hostile name: shown as text, downloaded with a safe name.
  await search('"hostile name"');
  await page.click('.result a.subject');
  await page.waitForSelector('#attachments a.attachment');
  const names = await page.locator('#attachments').textContent();
  check(names.includes("<script>alert('fn')</script>"), 'a hostile file name is shown as text');
  check(await page.locator('#attachments script').count() === 0, 'no element was made from a file name');
  await shot('04-message-attachments');
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#attachments a.attachment').first().click()]);
  const saved = download.suggestedFilename();
    check(!/[/\\<>]/.test(saved) && !saved.startsWith('.'), `the attachment downloads under a safe name (${saved})`);
  const attachmentPath = path.join(artifacts, 'attachment.bin');
  await download.saveAs(attachmentPath);
  check(fs.readFileSync(attachmentPath, 'utf8').includes("<script>alert('attachment')</script>"), 'the attachment downloads decoded, whole');

  // Export of a result set.
  await search('xsstoken');
  const [mbox] = await Promise.all([page.waitForEvent('download'), page.click('a.export:has-text("mbox")')]);
  const mboxPath = path.join(artifacts, 'export.mbox');
  await mbox.saveAs(mboxPath);
  const exported = fs.readFileSync(mboxPath, 'latin1');
  const exportedCount = (exported.match(/^From /gm) || []).length;
  check(exportedCount === hits, `the mbox export holds every match (${exportedCount} of ${hits})`);

  // Accounts: add one against the test Dovecot with a connection test, run it,
  // watch its progress, see it in the history.
  await page.goto(`${base}/#/accounts`);
  await page.waitForSelector('#add-account');
  await page.fill('#add-account #account-name', env('MV_POP3_ACCOUNT'));
  await page.fill('#add-account #account-host', '127.0.0.1');
  await page.fill('#add-account #account-port', env('MV_POP3_PORT'));
  await page.fill('#add-account #account-user', env('MV_POP3_USER'));
  await page.fill('#add-account #account-password', env('MV_POP3_PASSWORD'));
  await page.selectOption('#add-account #account-tls', 'none');
  await page.click('#add-account #test-account');
  await page.waitForSelector('#test-result');
  check((await page.textContent('#test-result')).includes(`${env('MV_POP3_MESSAGES')} messages`), 'the connection test reports the mailbox');
  await shot('05-account-test');
  await page.click('#add-account button[type=submit]');
  const row = page.locator(`#accounts tr[data-account="${env('MV_POP3_ACCOUNT')}"]`);
  await row.waitFor();
  await shot('06-accounts');
  await row.locator('button.run-now').click();
  await page.waitForSelector('#live-runs');
  const bar = page.locator(`#live-runs tr[data-account="${env('MV_POP3_ACCOUNT')}"] [role=progressbar]`);
  const sawProgress = await bar.waitFor({ timeout: 30000 }).then(() => true, () => false);
  check(sawProgress, 'the dashboard shows a progress bar for the running collection');
  if (sawProgress) await shot('07-dashboard-progress');
  await page.locator(`#account-status tr[data-account="${env('MV_POP3_ACCOUNT')}"][data-state="ok"]`).waitFor({ timeout: 60000 });
  const archivedShown = await page.waitForFunction((least) => {
    const value = document.querySelector('#figures .figure .value');
    return value && parseInt(value.textContent.replace(/[^0-9]/g, ''), 10) >= least;
  }, Number(env('MV_POP3_MESSAGES')), { timeout: 20000 }).then(() => true, () => false);
  check(archivedShown, 'the dashboard figures follow the collection without a reload');
  await shot('08-dashboard');
  await page.goto(`${base}/#/accounts/${encodeURIComponent(env('MV_POP3_ACCOUNT'))}`);
  await page.waitForSelector('#run-history tbody tr');
  const historyRow = await page.textContent('#run-history tbody tr');
  check(historyRow.includes('ok') && historyRow.includes(env('MV_POP3_MESSAGES')), `the run is in the history (${historyRow.trim().replace(/\s+/g, ' ')})`);
  await shot('09-run-history');
  let collected = 0;
  for (let i = 0; i < 90 && collected === 0; i++) {
    collected = await search(`subject:${env('MV_POP3_SUBJECT_WORD')}`);
    if (collected === 0) await page.waitForTimeout(1000);
  }
  check(collected > 0, `collected mail becomes searchable (${collected})`);

  // Users and the audit log.
  await page.goto(`${base}/#/users`);
  await page.waitForSelector('#users');
  check((await page.textContent('#users')).includes(env('MV_USER')), 'the users page lists the users');
  await shot('10-users');
  await page.goto(`${base}/#/audit`);
  await page.waitForSelector('#audit tbody tr');
  const auditText = await page.textContent('#audit');
  check(auditText.includes('search') && auditText.includes('export') && auditText.includes('attachment'), 'searches, downloads and exports are in the audit log');
  await page.click('#verify-audit');
  await page.waitForSelector('#audit-verdict .ok, #audit-verdict .error');
  check(await page.isVisible('#audit-verdict .ok'), 'the audit chain verifies');
  await shot('11-audit');

  // A user sees only the accounts granted to them.
  await page.click('#logout');
  await page.waitForSelector('#login-user');
  await login(env('MV_USER'), env('MV_USER_PASSWORD'));
  check(await page.isHidden('#nav a[data-page=audit]'), 'a user has no audit log link');
  check(await search('xsstoken') === 0, 'a user finds nothing in accounts not granted to them');
  await shot('12-user-search');

  // A phone-sized screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await search(`subject:${env('MV_POP3_SUBJECT_WORD')}`);
  await shot('13-phone');
} catch (error) {
  failures.push(`stopped: ${error.stack || error}`);
  console.log(`FAIL stopped: ${error.stack || error}`);
  await shot('failure').catch(() => {});
} finally {
  await browser.close();
}

check(dialogs.length === 0, `no dialog opened (${dialogs.join(' | ')})`);
check(pageErrors.length === 0, `no page error (${pageErrors.join(' | ')})`);
console.log(`HTTP errors seen: ${httpErrors.join(' | ') || 'none'}`);
// Expected: 401 for /api/me before login and for the wrong password; 404 for
// the remote-content tracker is not ours. Anything 5xx or 403 is a fault.
const faults = httpErrors.filter((e) => /^(5\d\d|403) /.test(e));
check(faults.length === 0, `no server error or refusal in the UI's requests (${faults.join(' | ')})`);
check(consoleErrors.length === 0, `no console error besides blocked content (${consoleErrors.join(' | ')})`);
fs.writeFileSync(path.join(artifacts, 'blocked-content.log'), blocked.join('\n') + '\n');
console.log(`${blocked.length} console messages reported content blocked by the sandbox or CSP`);
console.log(failures.length === 0 ? 'all checks held' : `${failures.length} check(s) failed`);
process.exit(failures.length === 0 ? 0 : 1);
