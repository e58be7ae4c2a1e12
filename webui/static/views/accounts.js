// Accounts (admin): list, add with a connection test, edit, run now, remove,
// and each account's run history.
import { api } from '../api.js';
import { el, mount, formatDate, formatBytes, toast, errorBox } from '../ui.js';
import { accountRows } from './dashboard.js';

function accountForm(existing, onDone) {
  const f = (name, attrs = {}) => el('input', { name, id: `account-${name}`, ...attrs });
  const fields = {
    name: f('name', { required: true, value: existing?.name, readonly: Boolean(existing), autocomplete: 'off' }),
    host: f('host', { required: true, value: existing?.host, autocomplete: 'off' }),
    port: f('port', { type: 'number', min: 1, max: 65535, value: existing?.port || '' }),
    user: f('user', { required: true, value: existing?.user, autocomplete: 'off' }),
    password: f('password', { type: 'password', autocomplete: 'new-password',
      placeholder: existing ? 'unchanged' : '', required: !existing }),
    tls: el('select', { name: 'tls', id: 'account-tls' }, ['pop3s', 'starttls', 'none'].map((t) =>
      el('option', { value: t, selected: (existing?.tls || 'pop3s') === t }, t))),
    fingerprint: f('fingerprint', { value: existing?.fingerprint, placeholder: 'SHA-256 of a self-signed certificate' }),
    policy: f('policy', { value: existing?.policy || 'keep', placeholder: 'keep, delete-after:30-days, delete-when-archived' }),
    schedule: f('schedule', { value: existing?.schedule, placeholder: 'cron, e.g. 0 2 * * * (default: nightly)' }),
  };
  const status = el('div', { 'aria-live': 'polite' });
  const values = () => {
    const v = {};
    for (const [k, input] of Object.entries(fields)) {
      if (input.value !== '') v[k] = k === 'port' ? Number(input.value) : input.value;
    }
    return v;
  };
  const form = el('form', { class: 'grid', id: existing ? 'edit-account' : 'add-account' },
    Object.entries(fields).map(([k, input]) => [el('label', { for: input.id }, k), input]),
    el('span'),
    el('div', { class: 'row' },
      el('button', { type: 'button', class: 'secondary', id: 'test-account', onclick: async () => {
        status.replaceChildren(el('p', { class: 'muted' }, 'Connecting…'));
        try {
          const probe = await api.testAccount(values());
          status.replaceChildren(probe.ok === false ? errorBox(probe.error || 'the test failed')
            : el('p', { class: 'ok', id: 'test-result' },
              `Connected${probe.tls ? ' with TLS' : ''}: ${probe.messages} messages (${formatBytes(probe.octets)}) on the server.`));
        } catch (error) { status.replaceChildren(errorBox(error)); }
      } }, 'Test connection'),
      el('button', { type: 'submit' }, existing ? 'Save' : 'Add account')),
    el('span'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      if (existing) await api.editAccount(existing.name, values());
      else await api.addAccount(values());
      toast(existing ? 'Account saved' : 'Account added');
      onDone();
    } catch (error) { status.replaceChildren(errorBox(error)); }
  });
  return form;
}

async function history(name, into) {
  const runs = await api.runs({ account: name, limit: 20 });
  into.replaceChildren(el('h2', {}, `Runs of ${name}`), el('div', { class: 'table-wrap' }, el('table', { id: 'run-history' },
    el('thead', {}, el('tr', {}, ['Started', 'State', 'Seen', 'New', 'Duplicate', 'Failed', 'Deleted', 'Bytes', 'Error'].map((h) => el('th', {}, h)))),
    el('tbody', {}, (runs.runs || []).map((r) => el('tr', {},
      el('td', {}, formatDate(r.started_at)), el('td', {}, r.state), el('td', { class: 'num' }, r.seen),
      el('td', { class: 'num' }, r.new), el('td', { class: 'num' }, r.duplicate), el('td', { class: 'num' }, r.failed),
      el('td', { class: 'num' }, r.deleted), el('td', { class: 'num' }, formatBytes(r.bytes)), el('td', { class: 'error' }, r.error || '')))))));
}

export async function accountsPage({ go, route }) {
  const { rows } = await accountRows();
  const list = { accounts: rows };
  const details = el('section', { class: 'card', id: 'account-details' });
  const table = el('table', { id: 'accounts' },
    el('thead', {}, el('tr', {}, ['Name', 'Server', 'TLS', 'Policy', 'Schedule', 'Last run', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, (list.accounts || []).map((a) => el('tr', { 'data-account': a.name },
      el('td', {}, el('a', { href: `#/accounts/${encodeURIComponent(a.name)}` }, a.name)),
      el('td', {}, `${a.host}:${a.port}`), el('td', {}, a.tls), el('td', {}, a.policy),
      el('td', {}, a.schedule || '(default)'),
      el('td', {}, a.last_run ? `${formatDate(a.last_run.started_at)} ${a.last_run.state}` : 'never'),
      el('td', { class: 'row' },
        el('button', { type: 'button', class: 'secondary run-now', onclick: async () => {
          try { await api.runAccount(a.name); toast(`Collecting ${a.name} now`); go('#/dashboard'); } catch (error) { toast(error.message); }
        } }, 'Run now'),
        el('button', { type: 'button', class: 'secondary', onclick: () => go(`#/accounts/${encodeURIComponent(a.name)}/edit`) }, 'Edit'),
        el('button', { type: 'button', class: 'danger', onclick: async () => {
          if (!confirm(`Remove account ${a.name}? Its archived mail stays.`)) return;
          try { await api.removeAccount(a.name); toast('Account removed'); go('#/accounts'); } catch (error) { toast(error.message); }
        } }, 'Remove'))))));
  mount(el('h1', {}, 'Accounts'),
    el('section', { class: 'card' }, el('div', { class: 'table-wrap' }, table)),
    details,
    el('section', { class: 'card' }, el('h2', {}, 'Add an account'), accountForm(null, () => go('#/accounts'))));
  const [name, action] = route.arg.split('/');
  if (name) {
    const account = (list.accounts || []).find((a) => a.name === name);
    if (!account) details.append(errorBox(`No account named ${name}`));
    else if (action === 'edit') details.append(el('h2', {}, `Edit ${name}`), accountForm(account, () => go('#/accounts')));
    else await history(name, details).catch((error) => details.replaceChildren(errorBox(error)));
  } else {
    details.remove();
  }
}
