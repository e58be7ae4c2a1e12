// The JSON API client (doc/api.md): one place that knows URLs, the CSRF header
// and error shapes. Every call returns parsed JSON or throws ApiError.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let csrfToken = '';
export function setCsrf(token) { csrfToken = token || ''; }

async function call(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD') init.headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('application/json')) data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || `${response.status} ${response.statusText}`);
  }
  return data;
}

const q = (params) => {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  }
  const s = search.toString();
  return s ? `?${s}` : '';
};
const enc = encodeURIComponent;

export const api = {
  login: (user, password) => call('POST', '/api/login', { user, password }),
  logout: () => call('POST', '/api/logout', {}),
  me: () => call('GET', '/api/me'),
  search: (params) => call('GET', `/api/search${q(params)}`),
  message: (id) => call('GET', `/api/messages/${enc(id)}`),
  rawUrl: (id) => `/api/messages/${enc(id)}/raw`,
  htmlUrl: (id, remote) => `/api/messages/${enc(id)}/html${remote ? '?remote=1' : ''}`,
  attachmentUrl: (id, index) => `/api/messages/${enc(id)}/attachments/${enc(index)}`,
  exportUrl: (query, format) => `/api/export${q({ q: query, format })}`,
  stats: () => call('GET', '/api/stats'),
  accounts: () => call('GET', '/api/accounts'),
  addAccount: (account) => call('POST', '/api/accounts', account),
  editAccount: (name, account) => call('PUT', `/api/accounts/${enc(name)}`, account),
  removeAccount: (name) => call('DELETE', `/api/accounts/${enc(name)}`),
  testAccount: (account) => call('POST', '/api/accounts/test', account),
  runAccount: (name) => call('POST', `/api/accounts/${enc(name)}/run`, {}),
  runs: (params) => call('GET', `/api/runs${q(params)}`),
  liveRuns: () => call('GET', '/api/runs/live'),
  users: () => call('GET', '/api/users'),
  addUser: (user) => call('POST', '/api/users', user),
  editUser: (name, user) => call('PUT', `/api/users/${enc(name)}`, user),
  removeUser: (name) => call('DELETE', `/api/users/${enc(name)}`),
  audit: (params) => call('GET', `/api/audit${q(params)}`),
  runItems: (id) => call('GET', `/api/runs/${enc(id)}/items`),
  verifyAudit: () => call('GET', '/api/audit/verify'),
};
