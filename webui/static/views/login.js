import { api } from '../api.js';
import { el, mount, errorBox } from '../ui.js';

export function loginPage({ onLogin }) {
  const status = el('div');
  const user = el('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true });
  const password = el('input', { id: 'login-password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const form = el('form', { class: 'card login', 'aria-label': 'Log in' },
    el('h1', {}, 'mailvault'),
    el('label', { for: 'login-user' }, 'User'), user,
    el('label', { for: 'login-password' }, 'Password'), password,
    el('p', {}, el('button', { type: 'submit' }, 'Log in')),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.replaceChildren();
    try {
      const who = await api.login(user.value, password.value);
      onLogin(who);
    } catch (error) {
      password.value = '';
      status.replaceChildren(errorBox(error));
      password.focus();
    }
  });
  mount(form);
  user.focus();
}
