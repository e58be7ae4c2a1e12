// The front end's shell: session, navigation by the URL fragment, and the
// pages (views/*.js). Pages get a context { me, route, params } and render
// into <main>.
import { api, setCsrf, ApiError } from './api.js';
import { mount, el, errorBox } from './ui.js';
import { loginPage } from './views/login.js';
import { searchPage } from './views/search.js';
import { messagePage } from './views/message.js';
import { dashboardPage } from './views/dashboard.js';
import { accountsPage } from './views/accounts.js';
import { usersPage } from './views/users.js';
import { auditPage } from './views/audit.js';

const pages = {
  search: searchPage,
  message: messagePage,
  dashboard: dashboardPage,
  accounts: accountsPage,
  users: usersPage,
  audit: auditPage,
};

let me = null;
let cleanup = null;

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  const [page, ...rest] = path.split('/');
  return { page: page || 'search', arg: rest.map(decodeURIComponent).join('/'),
    params: new URLSearchParams(query) };
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function showShell() {
  const bar = document.getElementById('bar');
  bar.hidden = !me;
  if (!me) return;
  document.getElementById('who').textContent = `${me.user} (${me.role})`;
  for (const link of document.querySelectorAll('#nav a')) {
    const roles = link.dataset.role;
    link.hidden = Boolean(roles) && !roles.split(' ').includes(me.role);
  }
}

async function render() {
  if (cleanup) { cleanup(); cleanup = null; }
  const route = parseRoute();
  if (!me) {
    showShell();
    loginPage({ onLogin: (who) => { me = who; setCsrf(who.csrf_token); render(); } });
    return;
  }
  showShell();
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === route.page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const page = pages[route.page];
  if (!page) { mount(el('h1', {}, 'Not found'), el('p', {}, el('a', { href: '#/search' }, 'Search'))); return; }
  try {
    cleanup = (await page({ me, route, go })) || null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) { me = null; render(); return; }
    mount(errorBox(error));
  }
  document.getElementById('main').focus({ preventScroll: true });
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await api.logout(); } catch (_) { /* the session may be gone already */ }
  me = null;
  setCsrf('');
  location.hash = '#/search';
  render();
});

window.addEventListener('hashchange', render);

(async () => {
  try {
    me = await api.me();
    setCsrf(me.csrf_token);
  } catch (_) {
    me = null;
  }
  render();
})();
