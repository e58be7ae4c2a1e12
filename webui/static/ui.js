// DOM helpers. Everything from the server (mail above all) goes into the page
// as text nodes or attribute values, never as HTML: el() has no innerHTML path.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(key, '');
    } else {
      node.setAttribute(key, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function mount(...children) {
  const main = document.getElementById('main');
  main.replaceChildren();
  append(main, children);
  return main;
}

// A snippet as the search API sends it: text HTML-escaped by the index, with
// <b>...</b> around matched words. Only those markers become elements (<mark>);
// everything else is decoded to plain text.
export function snippet(text) {
  const out = el('div', { class: 'snippet' });
  const parts = String(text || '').split(/(<b>|<\/b>)/);
  let marked = false;
  for (const part of parts) {
    if (part === '<b>') { marked = true; continue; }
    if (part === '</b>') { marked = false; continue; }
    const plain = decodeEntities(part);
    if (plain) out.append(marked ? el('mark', {}, plain) : document.createTextNode(plain));
  }
  return out;
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : '\uFFFD';
    }
    return ENTITIES[name] ?? whole;
  });
}

// "2025-06-02T10:00:00Z" (the API's form) or unix seconds, as "2025-06-02 10:00" (UTC).
export function formatDate(value) {
  if (!value) return '';
  const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().replace('T', ' ').slice(0, 16);
}

// [{name, address}] as "Name <address>, ...".
export function formatAddresses(list) {
  return (list || []).map((a) => (a.name ? `${a.name} <${a.address}>` : a.address)).join(', ');
}

export function formatBytes(n) {
  n = Number(n) || 0;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

export function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 3500);
}

export function errorBox(error) {
  return el('p', { class: 'error', role: 'alert' }, error && error.message ? error.message : String(error));
}

export function progressBar(done, total, label) {
  const pct = total > 0 ? Math.min(100, Math.round((100 * done) / total)) : 0;
  const bar = el('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0,
    'aria-valuemax': total || 0, 'aria-valuenow': done || 0, 'aria-label': label || 'progress' },
  el('span'));
  bar.firstChild.style.width = `${pct}%`;
  return bar;
}
