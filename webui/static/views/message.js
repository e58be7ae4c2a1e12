// One message: headers, text, the HTML body in a sandboxed frame (remote
// content only on request), attachments and the raw .eml.
import { api } from '../api.js';
import { el, mount, formatDate, formatBytes, formatAddresses } from '../ui.js';

export async function messagePage({ route }) {
  const id = route.arg;
  const m = await api.message(id);
  const headerList = el('dl', { class: 'headers' });
  const h = m.headers || {};
  const wanted = [['From', formatAddresses(h.from)], ['To', formatAddresses(h.to)], ['Cc', formatAddresses(h.cc)],
    ['Date', h.date ? `${formatDate(h.date)} UTC` : h.date_raw], ['Subject', h.subject],
    ['Message-ID', h.message_id], ['Account', (m.accounts || []).join(', ')]];
  for (const [name, value] of wanted) {
    if (value) headerList.append(el('dt', {}, name), el('dd', {}, value));
  }
 const problems = (m.problems || []).length
    ? el('details', {}, el('summary', {}, 'Decoding notes'), el('ul', {}, m.problems.map((p) => el('li', {}, p))))
    : null;
  const body = el('div');
  const tabs = el('div', { class: 'tabs', role: 'group', 'aria-label': 'Body view' });
  const showText = () => body.replaceChildren(el('pre', { class: 'body', id: 'message-text' }, m.text || '(no text part)'));
  const showHtml = (remote) => {
    // sandbox="" : no scripts, no forms, no same-origin, no top navigation.
    // The server adds a Content-Security-Policy that blocks remote loads
    // unless remote=1 was asked for.
    const frame = el('iframe', { class: 'html-body', sandbox: '', referrerpolicy: 'no-referrer',
      title: 'Message (HTML)', src: api.htmlUrl(id, remote) });
    const toggle = remote
      ? el('p', { class: 'muted' }, 'Remote content is shown.')
      : el('p', { class: 'muted' }, 'Remote images and content are blocked. ',
        el('button', { type: 'button', class: 'secondary', id: 'show-remote', onclick: () => showHtml(true) }, 'Show remote content'));
    body.replaceChildren(toggle, frame);
  };
  const tab = (label, show, pressed) => el('button', { type: 'button', 'aria-pressed': pressed ? 'true' : 'false',
    onclick: (event) => {
      for (const b of tabs.children) b.setAttribute('aria-pressed', 'false');
      event.currentTarget.setAttribute('aria-pressed', 'true');
      show();
    } }, label);
  tabs.append(tab('Text', showText, !m.html));
  if (m.html) tabs.append(tab('HTML', () => showHtml(false), true));
  if (m.html) showHtml(false); else showText();

  const attachments = el('ul', { id: 'attachments' });
  for (const a of m.attachments || []) {
    attachments.append(el('li', {}, el('a', { href: api.attachmentUrl(id, a.index), class: 'attachment' },
      a.filename || `attachment ${a.index}`), ' ', el('span', { class: 'muted' }, `${a.content_type || ''} ${formatBytes(a.size)}`)));
  }
  mount(
    el('p', {}, el('a', { href: '#/search', onclick: (e) => { e.preventDefault(); history.back(); } }, '← Back')),
    el('h1', { id: 'message-subject' }, h.subject || '(no subject)'),
    el('section', { class: 'card' }, headerList, problems,
      el('p', { class: 'row' }, el('a', { href: api.rawUrl(id), download: `${id}.eml` }, 'Download .eml'),
        el('span', { class: 'muted' }, `${formatBytes(m.size)} · id ${id.slice(0, 16)}…`))),
    (m.attachments || []).length ? el('section', { class: 'card' }, el('h2', {}, 'Attachments'), attachments) : null,
    el('section', { class: 'card' }, tabs, body));
}
