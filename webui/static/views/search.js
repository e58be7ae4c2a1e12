// Search: query box with syntax help, filters, facets, sort, paging, snippets
// with highlights, and export of the result set.
import { api } from '../api.js';
import { el, mount, snippet, formatDate, errorBox } from '../ui.js';

const PAGE = 20;

export async function searchPage({ me, route, go }) {
  const params = route.params;
  const query = params.get('q') || '';
  const sort = params.get('sort') || 'date';
  const offset = Number(params.get('offset') || 0);
  const reads = me.role === 'user' ? 'the accounts granted to you' : 'every account';

  const input = el('input', { type: 'search', name: 'q', value: query, class: 'grow',
    placeholder: 'from:alice subject:invoice date:2023..2024', 'aria-label': 'Search query',
    autocomplete: 'off' });
  const sortSelect = el('select', { name: 'sort', 'aria-label': 'Sort' },
    el('option', { value: 'date', selected: sort === 'date' }, 'Newest first'),
    el('option', { value: 'relevance', selected: sort === 'relevance' }, 'Best match'));
  const form = el('form', { class: 'card', role: 'search' },
    el('div', { class: 'row' }, input, sortSelect, el('button', { type: 'submit' }, 'Search')),
    el('details', { class: 'help' }, el('summary', {}, 'Query syntax'),
      el('p', {}, 'Words match anywhere; ', el('code', {}, '"exact phrase"'), ', ',
        el('code', {}, 'from:'), ' ', el('code', {}, 'to:'), ' ', el('code', {}, 'cc:'), ' ',
        el('code', {}, 'subject:'), ' ', el('code', {}, 'filename:'), ' ', el('code', {}, 'account:'),
        ' fields (', el('code', {}, 'from:bob@example.com'), ' and ', el('code', {}, 'from:example.com'),
        ' are exact), ', el('code', {}, 'date:2024-01..2024-03'), ' ranges, ',
        el('code', {}, 'has:attachment'), ', ', el('code', {}, 'type:application/pdf'), ', ',
        el('code', {}, 'AND OR NOT'), ', ', el('code', {}, '-word'), ' to exclude and ',
        el('code', {}, 'invoi*'), ' wildcards. See doc/search.md.'),
      el('p', { class: 'muted' }, `You search ${reads}.`)));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go(`#/search?${new URLSearchParams({ q: input.value, sort: sortSelect.value })}`);
  });
  const results = el('section', { class: 'card', 'aria-label': 'Results', 'aria-live': 'polite' });
  const facets = el('aside', { class: 'card facets', 'aria-label': 'Filters' });
  mount(el('h1', {}, 'Search'), form, el('div', { class: 'search-layout' }, facets, results));
  input.focus();
  if (!query) {
    results.append(el('p', { class: 'muted' }, 'Type a query to search the archive.'));
    facets.append(el('p', { class: 'muted' }, 'Filters appear with results.'));
    return;
  }
  results.append(el('p', { class: 'muted' }, 'Searching…'));
  let page;
  try {
    page = await api.search({ q: query, sort, offset, limit: PAGE });
  } catch (error) {
    results.replaceChildren(errorBox(error));
    return;
  }
  const total = page.total || 0;
  const exportRow = el('div', { class: 'row' },
    el('span', { class: 'grow', id: 'result-count' },
      `${total.toLocaleString()} message${total === 1 ? '' : 's'}`),
    el('a', { href: api.exportUrl(query, 'mbox'), download: 'mailvault-export.mbox', class: 'export' }, 'Export mbox'),
    el('a', { href: api.exportUrl(query, 'zip'), download: 'mailvault-export.zip', class: 'export' }, 'Export .eml zip'));
  const list = el('div', { class: 'results' });
  for (const hit of page.results || []) {
    list.append(el('article', { class: 'result' },
      el('a', { class: 'subject', href: `#/message/${encodeURIComponent(hit.id)}` },
        hit.subject || '(no subject)'),
      el('div', { class: 'meta' }, hit.from || '', ' · ', formatDate(hit.date),
        hit.account ? ` · ${hit.account}` : ''),
      hit.snippet ? snippet(hit.snippet) : null));
  }
  const prev = el('button', { type: 'button', class: 'secondary', disabled: offset === 0,
    onclick: () => go(`#/search?${new URLSearchParams({ q: query, sort, offset: Math.max(0, offset - PAGE) })}`) }, '← Newer');
  const next = el('button', { type: 'button', class: 'secondary', disabled: offset + PAGE >= total,
    onclick: () => go(`#/search?${new URLSearchParams({ q: query, sort, offset: offset + PAGE })}`) }, 'Older →');
  results.replaceChildren(exportRow, list,
    total > PAGE ? el('nav', { class: 'pager', 'aria-label': 'Pages' }, prev,
      el('span', { class: 'muted' }, `${offset + 1}–${Math.min(total, offset + PAGE)} of ${total}`), next) : null);

  facets.replaceChildren();
  const names = { account: 'Account', year: 'Year', sender_domain: 'Sender domain' };
  // The query field each facet filters by (doc/search.md).
  const fields = { account: 'account', year: 'date', sender_domain: 'from' };
  for (const [name, values] of Object.entries(page.facets || {})) {
    if (!Array.isArray(values) || values.length === 0) continue;
    facets.append(el('h3', {}, names[name] || name), el('ul', {}, values.slice(0, 10).map((v) =>
      el('li', {}, el('button', { type: 'button', onclick: () => {
        const term = /\s/.test(v.value) ? `"${v.value}"` : v.value;
        const field = fields[name] || name;
        go(`#/search?${new URLSearchParams({ q: `${query} ${field}:${term}`, sort })}`);
      } }, `${v.value} (${v.count})`)))));
  }
  if (!facets.childElementCount) facets.append(el('p', { class: 'muted' }, 'No filters for these results.'));
}
