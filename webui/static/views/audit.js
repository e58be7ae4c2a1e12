// Audit log (admin, auditor): who did what, when, from where; and a check of
// the hash chain that makes it tamper-evident.
import { api } from '../api.js';
import { el, mount, formatDate, errorBox } from '../ui.js';

const PAGE = 50;

export async function auditPage({ route, go }) {
  const before = route.params.get('before') || '';
  const log = await api.audit({ before, limit: PAGE });
  const verdict = el('span', { id: 'audit-verdict', 'aria-live': 'polite' });
  const entries = log.entries || [];
  mount(el('h1', {}, 'Audit log'),
    el('section', { class: 'card row' },
      el('button', { type: 'button', class: 'secondary', id: 'verify-audit', onclick: async () => {
        verdict.textContent = 'Checking…';
        try {
          const v = await api.verifyAudit();
          verdict.replaceChildren(v.ok ? el('span', { class: 'ok' }, `Intact: ${v.entries} entries up to #${v.last_id}, chain verified.`)
            : el('span', { class: 'error' }, `Broken at entry #${v.first_broken_id}: ${v.problem || ''}`));
        } catch (error) { verdict.replaceChildren(errorBox(error)); }
      } }, 'Verify chain'), verdict),
    el('section', { class: 'card' }, el('div', { class: 'table-wrap' }, el('table', { id: 'audit' },
      el('thead', {}, el('tr', {}, ['#', 'When', 'Who', 'From', 'Action', 'What', 'Outcome', 'Detail'].map((h) => el('th', {}, h)))),
      el('tbody', {}, entries.map((e) => el('tr', {},
        el('td', { class: 'num' }, e.id), el('td', {}, formatDate(e.at)), el('td', {}, e.user),
        el('td', {}, e.address || ''), el('td', {}, e.action), el('td', {}, e.target || ''),
        el('td', { class: e.outcome === 'ok' ? '' : 'error' }, e.outcome || ''), el('td', {}, e.detail || '')))))),
    el('nav', { class: 'pager' },
      el('button', { type: 'button', class: 'secondary', disabled: !before, onclick: () => go('#/audit') }, '⇤ Newest'),
      el('button', { type: 'button', class: 'secondary', disabled: entries.length < PAGE,
        onclick: () => go(`#/audit?before=${entries[entries.length - 1].id}`) }, 'Older →'))));
}
