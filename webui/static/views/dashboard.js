// Dashboard: storage, dedup and compression figures, messages archived per
// day, every account with its last and next run, and live progress of running
// collections (refreshed every 2 s while the page is open).
import { api } from '../api.js';
import { el, mount, formatDate, formatBytes, progressBar, errorBox } from '../ui.js';

function figure(label, value) {
  return el('div', { class: 'figure' }, el('div', { class: 'value' }, value), el('div', { class: 'label' }, label));
}

function chart(perDay) {
  const days = perDay || [];
  const max = Math.max(1, ...days.map((d) => d.count));
  const w = 600;
  const h = 150;
  const bw = days.length ? w / days.length : w;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Messages archived per day');
  days.forEach((d, i) => {
    const rect = document.createElementNS(ns, 'rect');
    const bh = Math.max(1, (h - 10) * (d.count / max));
    rect.setAttribute('x', String(i * bw + 1));
    rect.setAttribute('y', String(h - bh));
    rect.setAttribute('width', String(Math.max(1, bw - 2)));
    rect.setAttribute('height', String(bh));
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${d.day}: ${d.count}`;
    rect.append(title);
    svg.append(rect);
  });
  return el('div', { class: 'chart' }, svg);
}

export async function dashboardPage({ me }) {
  const stats = await api.stats();
  const live = el('section', { class: 'card', id: 'live-runs', 'aria-live': 'polite' });
  const accounts = el('section', { class: 'card', id: 'account-status' });
  const ratio = (a, b) => (b ? `${(a / b).toFixed(2)}×` : '–');
  mount(
    el('h1', {}, 'Dashboard'),
    el('div', { class: 'figures' },
      figure('messages', (stats.messages || 0).toLocaleString()),
      figure('mail size', formatBytes(stats.raw_bytes)),
      figure('stored on disk', formatBytes(stats.stored_bytes)),
      figure('saved by dedup', ratio(stats.raw_bytes, stats.unique_bytes)),
      figure('saved by compression', ratio(stats.unique_bytes, stats.stored_bytes)),
      figure('waiting for the index', (stats.index_pending ?? 0).toLocaleString())),
    el('section', { class: 'card' }, el('h2', {}, 'Messages archived per day'), chart(stats.per_day)),
    live, accounts);

  const refresh = async () => {
    try {
      const [runs, list] = await Promise.all([api.liveRuns(), api.accounts().catch(() => null)]);
      const running = runs.runs || [];
      live.replaceChildren(el('h2', {}, 'Running now'), running.length === 0
        ? el('p', { class: 'muted' }, 'No collection is running.')
        : el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, el('th', {}, 'Account'), el('th', {}, 'Progress'), el('th', { class: 'num' }, 'Messages'), el('th', { class: 'num' }, 'Bytes'))),
          el('tbody', {}, running.map((r) => el('tr', { 'data-account': r.account },
            el('td', {}, r.account),
            el('td', {}, progressBar(r.fetched, r.to_fetch, `collecting ${r.account}`)),
            el('td', { class: 'num' }, `${r.fetched} of ${r.to_fetch}`),
            el('td', { class: 'num' }, formatBytes(r.bytes))))))));
      if (list) {
        accounts.replaceChildren(el('h2', {}, 'Accounts'), el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, el('th', {}, 'Account'), el('th', {}, 'Status'), el('th', {}, 'Last run'), el('th', {}, 'Next run'), el('th', { class: 'num' }, 'Messages'))),
          el('tbody', {}, (list.accounts || []).map((a) => el('tr', {},
            el('td', {}, a.name),
            el('td', {}, a.running ? el('span', { class: 'badge ok' }, 'running')
              : a.failing ? el('span', { class: 'badge error' }, 'failing')
                : a.last_run && a.last_run.state !== 'ok' ? el('span', { class: 'badge warn' }, a.last_run.state)
                  : el('span', { class: 'badge ok' }, 'ok')),
            el('td', {}, a.last_run ? `${formatDate(a.last_run.started_at)} · ${a.last_run.new} new` : 'never'),
            el('td', {}, a.next_run ? formatDate(a.next_run) : ''),
            el('td', { class: 'num' }, (a.messages ?? '').toLocaleString())))))));
      } else if (me.role !== 'admin') {
        accounts.replaceChildren();
      }
    } catch (error) {
      live.replaceChildren(errorBox(error));
    }
  };
  await refresh();
  const timer = setInterval(refresh, 2000);
  return () => clearInterval(timer);
}
