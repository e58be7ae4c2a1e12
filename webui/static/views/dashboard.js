// Dashboard: storage, dedup and compression figures, messages archived per
// day, every account with its last and next run, and live progress of running
// collections (refreshed every second while the page is open).
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
  // A few days of history stay thin bars, not one block across the chart.
  const bw = Math.min(40, days.length ? w / days.length : w);
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

// Each account (with its newest run) and its schedule state (live), joined.
export async function accountRows() {
  const [live, list] = await Promise.all([api.liveRuns(), api.accounts()]);
  const schedules = new Map((live.schedules || []).map((s) => [s.account, s]));
  const rows = (list.accounts || []).map((a) => ({ ...a, schedule_state: schedules.get(a.name) || null,
    last_run: a.last_run || null }));
  return { live, rows };
}

function statusBadge(row) {
  const s = row.schedule_state;
  if (s && s.running) return el('span', { class: 'badge ok' }, 'running');
  if (s && s.failing) return el('span', { class: 'badge error' }, 'failing');
  if (s && s.run_now_pending) return el('span', { class: 'badge' }, 'queued');
  if (!row.last_run) return el('span', { class: 'badge' }, 'never ran');
  if (row.last_run.state !== 'ok') return el('span', { class: 'badge warn' }, row.last_run.state);
  return el('span', { class: 'badge ok' }, 'ok');
}

function figures(stats) {
  const ratio = (r) => (r ? `${Number(r).toFixed(2)}×` : '–');
  return [
    figure('messages', (stats.messages || 0).toLocaleString()),
    figure('mail size', formatBytes(stats.raw_bytes)),
    figure('stored on disk', formatBytes(stats.stored_bytes)),
    figure('deduplication', ratio(stats.dedup_ratio)),
    figure('compression', ratio(stats.compression_ratio)),
    figure('searchable', `${(stats.indexed ?? 0).toLocaleString()} of ${(stats.messages || 0).toLocaleString()}`)];
}

function perDayChart(stats) {
  const perDay = [...(stats.archived_per_day || [])].reverse().slice(-90)
    .map((d) => ({ day: d.day, count: d.messages }));
  return [el('h2', {}, 'Messages archived per day'),
    perDay.length ? chart(perDay) : el('p', { class: 'muted' }, 'Nothing archived yet.')];
}

export async function dashboardPage() {
  const stats = await api.stats();
  const live = el('section', { class: 'card', id: 'live-runs', 'aria-live': 'polite' });
  const accounts = el('section', { class: 'card', id: 'account-status' });
  const totals = el('div', { class: 'figures', id: 'figures' }, figures(stats));
  const perDay = el('section', { class: 'card' }, perDayChart(stats));
  mount(el('h1', {}, 'Dashboard'), totals, perDay, live, accounts);

  // The figures follow a running collection and the indexer, less often than
  // the live progress (they count the whole catalog).
  let tick = 0;
  const refreshFigures = async () => {
    const now = await api.stats();
    totals.replaceChildren(...figures(now));
    perDay.replaceChildren(...perDayChart(now));
  };
  const refresh = async () => {
    try {
      const { live: now, rows } = await accountRows();
      const running = now.runs || [];
      live.replaceChildren(el('h2', {}, 'Running now'), !now.available
        ? el('p', { class: 'muted' }, 'The collection service is not running.')
        : running.length === 0 ? el('p', { class: 'muted' }, 'No collection is running.')
          : el('div', { class: 'table-wrap' }, el('table', {},
            el('thead', {}, el('tr', {}, el('th', {}, 'Account'), el('th', {}, 'Progress'), el('th', { class: 'num' }, 'Messages'), el('th', { class: 'num' }, 'Received'))),
            el('tbody', {}, running.map((r) => el('tr', { 'data-account': r.account },
              el('td', {}, r.account),
              el('td', {}, progressBar(r.fetched, r.to_fetch, `collecting ${r.account}`)),
              el('td', { class: 'num' }, `${r.fetched} of ${r.to_fetch}`),
              el('td', { class: 'num' }, formatBytes(r.bytes))))))));
      accounts.replaceChildren(el('h2', {}, 'Accounts'), rows.length === 0
        ? el('p', { class: 'muted' }, 'No accounts yet.')
        : el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, ['Account', 'Status', 'Last run', 'On server', 'Next run'].map((h) => el('th', {}, h)))),
          el('tbody', {}, rows.map((a) => el('tr', { 'data-account': a.name,
            'data-state': a.schedule_state && a.schedule_state.running ? 'running' : (a.last_run ? a.last_run.state : 'never') },
            el('td', {}, a.name), el('td', {}, statusBadge(a)),
            el('td', {}, a.last_run ? `${formatDate(a.last_run.started_at)} · ${a.last_run.new} new` : 'never'),
            el('td', { class: 'num' }, a.last_run ? a.last_run.seen : ''),
            el('td', {}, a.schedule_state && a.schedule_state.next_run ? formatDate(a.schedule_state.next_run) : '')))))));
      if (++tick % 5 === 0) await refreshFigures();
    } catch (error) {
      live.replaceChildren(errorBox(error));
    }
  };
  await refresh();
  const timer = setInterval(refresh, 1000);
  return () => clearInterval(timer);
}
