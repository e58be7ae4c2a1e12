// Audit log (admin, auditor): who did what, when, from where; and a check of
// the hash chain that makes it tamper-evident.
import { api } from '../api.js';
import { el, mount, formatDate, errorBox } from '../ui.js';

const PAGE = 50;

export async function auditPage({ route, go }) {
  const offset = Number(route.params.get('offset') || 0);
  const log = await api.audit({ offset, limit: PAGE });
  const verdict = el('span', { id: 'audit-verdict', 'aria-live': 'polite' });
  const entries = log.entries || [];
  mount(el('h1', {}, 'Audit log'),
    el('section', { class: 'card row' },
      el('button', { type: 'button', class: 'secondary', id: 'verify-audit', onclick: async () => {
        verdict.textContent = 'Checking…';
        try {
          const v = await api.verifyAudit();
          verdict.replaceChildren(v.ok ? el('span', { class: 'ok' }, `Intact: ${v.entries} entries, chain verified.`)
            : el('span', { class: 'error' }, `Broken at entry ${v.first_bad}: ${v.error || ''}`));
        } catch (error) { verdict.replaceChildren(errorBox(error)); }
      } }, 'Verify chain'), verdict),
    el('section', { class: 'card' }, el('div', { class: 'table-wrap' }, el('table', { id: 'audit' },
      el('thead', {}, el('tr', {}, ['#', 'When', 'Who', 'From', 'Action', 'What'].map((h) => el('th', {}, h)))),
      el('tbody', {}, entries.map((e) => el('tr', {},
        el('td', { class: 'num' }, e.seq ?? e.id), el('td', {}, formatDate(e.at)), el('td', {}, e.user),
        el('td', {}, e.address || ''), el('td', {}, e.action), el('td', {}, e.detail || '')))))),
    el('nav', { class: 'pager' },
      el('button', { type: 'button', class: 'secondary', disabled: offset === 0, onclick: () => go(`#/audit?offset=${Math.max(0, offset - PAGE)}`) }, '← Newer'),
      el('button', { type: 'button', class: 'secondary', disabled: entries.length < PAGE, onclick: () => go(`#/audit?offset=${offset + PAGE}`) }, 'Older →'))));
}
