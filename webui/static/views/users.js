// Users (admin): roles and, for the role "user", the accounts they may read.
import { api } from '../api.js';
import { el, mount, toast, errorBox } from '../ui.js';

export async function usersPage({ go }) {
  const [users, accounts] = await Promise.all([api.users(), api.accounts()]);
  const accountNames = (accounts.accounts || []).map((a) => a.name);
  const table = el('table', { id: 'users' },
    el('thead', {}, el('tr', {}, ['User', 'Role', 'Accounts', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, (users.users || []).map((u) => el('tr', { 'data-user': u.name },
      el('td', {}, u.name), el('td', {}, u.role), el('td', {}, u.role === 'user' ? (u.accounts || []).join(', ') || '(none)' : 'all'),
      el('td', {}, el('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!confirm(`Remove user ${u.name}?`)) return;
        try { await api.removeUser(u.name); toast('User removed'); go('#/users'); } catch (error) { toast(error.message); }
      } }, 'Remove'))))));
  const name = el('input', { id: 'user-name', required: true, autocomplete: 'off' });
  const password = el('input', { id: 'user-password', type: 'password', required: true, autocomplete: 'new-password', minlength: 12 });
  const role = el('select', { id: 'user-role' }, ['user', 'auditor', 'admin'].map((r) => el('option', { value: r }, r)));
  const grants = el('select', { id: 'user-accounts', multiple: true, size: Math.min(6, Math.max(2, accountNames.length)) },
    accountNames.map((a) => el('option', { value: a }, a)));
  const status = el('div');
  const form = el('form', { class: 'grid', id: 'add-user' },
    el('label', { for: 'user-name' }, 'User'), name,
    el('label', { for: 'user-password' }, 'Password'), password,
    el('label', { for: 'user-role' }, 'Role'), role,
    el('label', { for: 'user-accounts' }, 'Accounts (role user)'), grants,
    el('span'), el('button', { type: 'submit' }, 'Add user'), el('span'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api.addUser({ name: name.value, password: password.value, role: role.value,
        accounts: [...grants.selectedOptions].map((o) => o.value) });
      toast('User added');
      go('#/users');
    } catch (error) { status.replaceChildren(errorBox(error)); }
  });
  mount(el('h1', {}, 'Users'), el('section', { class: 'card' }, el('div', { class: 'table-wrap' }, table)),
    el('section', { class: 'card' }, el('h2', {}, 'Add a user'), form));
}
