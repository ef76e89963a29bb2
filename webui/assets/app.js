// davd web UI. Every change is a plain WebDAV request to the server (PUT, MKCOL, MOVE, DELETE),
// marked with X-Requested-With. Names are attacker-chosen: they are only ever written with
// textContent or setAttribute, never parsed as HTML.
'use strict';
(() => {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const MARK = { 'X-Requested-With': 'davd-webui' };
  const $ = (id) => document.getElementById(id);

  const dirHref = document.body.dataset.href; // escaped, ends with "/"
  // What the principal may do here, as the server rendered it: the page offers only what the
  // server would allow (it still checks every request).
  const canWrite = document.body.dataset.writable === 'true';
  const tbody = document.querySelector('#listing tbody');
  const status = $('status');
  const emptyBox = $('empty');

  let entries = [];
  let sortKey = 'name';
  let sortDir = 1;
  const fresh = new Set(); // names to highlight after the next render

  // ---- names and URLs ----

  function validName(n) {
    // The same rule as the server's davpath on Unix: no slash, control characters or dot
    // names; a backslash is an ordinary character of a name (issue 15 item 6). A string here is
    // always UTF-16 text, so the overlong encodings davpath also refuses cannot occur.
    return typeof n === 'string' && n !== '' && n !== '.' && n !== '..' &&
      !/[/\u0000-\u001f\u007f]/.test(n);
  }
  function childURL(name, dir) {
    return dirHref + encodeURIComponent(name) + (dir ? '/' : '');
  }

  // ---- formatting ----

  const KINDS = {
    image: 'png jpg jpeg gif webp svg bmp ico tif tiff heic avif',
    audio: 'mp3 wav flac ogg oga m4a aac opus',
    video: 'mp4 mkv webm mov avi m4v ogv',
    archive: 'zip tar gz tgz bz2 xz zst 7z rar',
    code: 'go js ts py rb rs c h cc cpp java sh json xml html css yaml yml toml sql',
    text: 'txt md csv log ini conf rst',
    pdf: 'pdf',
  };
  const EXT = new Map();
  for (const [kind, list] of Object.entries(KINDS)) {
    for (const e of list.split(' ')) EXT.set(e, kind);
  }
  function iconFor(name, dir) {
    if (dir) return 'i-folder';
    const dot = name.lastIndexOf('.');
    const kind = dot > 0 ? EXT.get(name.slice(dot + 1).toLowerCase()) : undefined;
    return kind ? 'i-' + kind : 'i-file';
  }
  function formatSize(n) {
    if (n < 1024) return n + ' B';
    const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
    let f = n / 1024;
    let i = 0;
    while (f >= 1024 && i < units.length - 1) { f /= 1024; i++; }
    return (f < 10 ? f.toFixed(1) : Math.round(f)) + ' ' + units[i];
  }
  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  function formatTime(iso) {
    const d = new Date(iso);
    return isNaN(d) ? '' : dateFmt.format(d);
  }

  // ---- rendering ----

  function icon(id, cls) {
    const svg = document.createElementNS(SVGNS, 'svg');
    svg.setAttribute('class', 'ic' + (cls ? ' ' + cls : ''));
    svg.setAttribute('aria-hidden', 'true');
    const use = document.createElementNS(SVGNS, 'use');
    use.setAttribute('href', '#' + id);
    svg.append(use);
    return svg;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function actionButton(iconId, label, cls, onClick) {
    const b = el('button', 'act' + (cls ? ' ' + cls : ''));
    b.type = 'button';
    b.title = label;
    b.setAttribute('aria-label', label);
    b.append(icon(iconId));
    b.addEventListener('click', onClick);
    return b;
  }

  function row(e) {
    const tr = el('tr', e.dir ? 'dir' : 'file');
    tr.dataset.name = e.name;
    tr.dataset.href = e.href;
    if (fresh.has(e.name)) tr.classList.add('fresh');

    const name = el('td', 'c-name');
    const a = el('a');
    a.setAttribute('href', e.href);
    const kind = iconFor(e.name, e.dir);
    a.append(icon(kind, 'k-' + kind), el('span', 'name', e.name));
    // The Modified column is hidden at phone width; the name's tooltip still tells.
    a.title = e.modified ? e.name + ' · modified ' + formatTime(e.modified) : e.name;
    name.append(a);

    const size = el('td', 'c-size', e.dir ? '—' : formatSize(e.size));
    if (!e.dir) size.title = e.size.toLocaleString() + ' bytes';

    const mod = el('td', 'c-mod');
    if (e.modified) {
      const t = el('time', '', formatTime(e.modified));
      t.dateTime = e.modified;
      mod.append(t);
    }

    const act = el('td', 'c-act');
    // A file downloads as itself, a folder as one zip the server streams (GET DIR/?download=zip).
    const dl = el('a', 'act');
    dl.setAttribute('href', e.dir ? e.href + '?download=zip' : e.href);
    dl.setAttribute('download', e.dir ? e.name + '.zip' : e.name);
    dl.title = e.dir ? 'Download as zip' : 'Download';
    dl.setAttribute('aria-label', 'Download ' + e.name + (e.dir ? ' as zip' : ''));
    dl.append(icon('i-download'));
    act.append(dl);
    // Renaming writes the folder's namespace and the member; deleting, the member.
    if (e.writable && canWrite) act.append(actionButton('i-rename', 'Rename ' + e.name, 'ren', () => rename(e)));
    if (e.writable) act.append(actionButton('i-trash', 'Delete ' + e.name, 'del', () => remove(e)));
    tr.append(name, size, mod, act);
    return tr;
  }

  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  function byName(a, b) {
    return collator.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  function compare(a, b) {
    if (a.dir !== b.dir) return a.dir ? -1 : 1; // folders first, whatever the order
    // Folders have no size: sorted by size, they keep their name order in either direction.
    if (a.dir && sortKey === 'size') return byName(a, b);
    let c = 0;
    if (sortKey === 'size') c = a.size - b.size;
    else if (sortKey === 'modified') c = (Date.parse(a.modified) || 0) - (Date.parse(b.modified) || 0);
    return (c || byName(a, b)) * sortDir;
  }

  function render() {
    const sorted = entries.slice().sort(compare);
    tbody.replaceChildren(...sorted.map(row));
    emptyBox.hidden = sorted.length > 0;
    for (const th of document.querySelectorAll('#listing th')) {
      const b = th.querySelector('button[data-key]');
      if (b && b.dataset.key === sortKey) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    fresh.clear();
  }

  for (const b of document.querySelectorAll('#listing th button[data-key]')) {
    b.addEventListener('click', () => {
      if (sortKey === b.dataset.key) sortDir = -sortDir;
      else { sortKey = b.dataset.key; sortDir = sortKey === 'name' ? 1 : -1; }
      render();
    });
  }

  async function refresh() {
    const res = await fetch(dirHref + '?format=json', {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'same-origin',
    });
    if (!res.ok) throw new Error('Could not reload the listing (' + res.status + ')');
    const data = await res.json();
    entries = Array.isArray(data.entries) ? data.entries : [];
    render();
  }

  // ---- status ----

  let statusTimer = 0;
  function say(msg, kind) {
    clearTimeout(statusTimer);
    status.textContent = msg;
    status.className = 'status' + (kind ? ' ' + kind : '');
    if (msg) statusTimer = setTimeout(() => say(''), kind === 'error' ? 15000 : 6000);
  }
  status.title = 'Click to dismiss';
  status.addEventListener('click', () => say(''));
  function fail(prefix, err) {
    say(prefix + ': ' + (err && err.message ? err.message : String(err)), 'error');
  }
  function httpError(res, what) {
    const reasons = {
      401: 'you are not signed in', 403: 'permission denied', 404: 'it no longer exists',
      405: 'something with that name already exists', 409: 'the parent folder is missing',
      412: 'something with that name already exists', 423: 'it is locked',
      507: 'the server is out of space',
    };
    return new Error((reasons[res.status] || 'the server answered ' + res.status) + (what ? ' (' + what + ')' : ''));
  }

  // dav sends one state-changing WebDAV request. A 207 from MOVE or DELETE lists members that
  // failed, so it counts as a failure.
  async function dav(method, url, headers) {
    const res = await fetch(url, {
      method,
      headers: Object.assign({}, MARK, headers || {}),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
    if (res.status === 207) throw new Error('some items could not be changed');
    if (!res.ok) throw httpError(res);
    return res;
  }

  // ---- name dialog (new folder, rename) ----

  const dlg = $('name-dialog');
  const dlgInput = $('dlg-input');
  const dlgError = $('dlg-error');
  let dlgDone = null;

  function askName(title, okLabel, initial, check) {
    if (dlg.open) return Promise.resolve(null);
    $('dlg-title').textContent = title;
    $('dlg-ok').textContent = okLabel;
    dlgInput.value = initial;
    dlgError.textContent = '';
    dlg.showModal();
    dlgInput.focus();
    const dot = initial.lastIndexOf('.');
    dlgInput.setSelectionRange(0, dot > 0 ? dot : initial.length);
    return new Promise((resolve) => {
      dlgDone = (value) => {
        if (value !== null) {
          const problem = check(value);
          if (problem) { dlgError.textContent = problem; return; }
        }
        dlgDone = null;
        dlg.close();
        resolve(value);
      };
    });
  }
  $('dlg-form').addEventListener('submit', (ev) => {
    ev.preventDefault(); // never a real form submission
    if (dlgDone) dlgDone(dlgInput.value.trim());
  });
  $('dlg-cancel').addEventListener('click', () => dlgDone && dlgDone(null));
  dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); if (dlgDone) dlgDone(null); });
  dlgInput.addEventListener('input', () => { dlgError.textContent = ''; });

  function nameProblem(name, except) {
    if (!validName(name)) return 'Names cannot be empty, "." or "..", or contain / or control characters.';
    if (name !== except && entries.some((e) => e.name === name)) return 'Something named “' + name + '” is already here.';
    return '';
  }

  // ---- actions ----

  async function newFolder() {
    const name = await askName('New folder', 'Create', '', (n) => nameProblem(n));
    if (name === null) return;
    try {
      await dav('MKCOL', childURL(name, true));
      fresh.add(name);
      say('Created folder “' + name + '”.', 'ok');
    } catch (err) {
      fail('Could not create “' + name + '”', err);
    }
    await refresh().catch((err) => fail('Reload failed', err));
  }

  async function rename(e) {
    const name = await askName('Rename “' + e.name + '”', 'Rename', e.name, (n) => nameProblem(n, e.name));
    if (name === null || name === e.name) return;
    try {
      await dav('MOVE', e.href, {
        Destination: location.origin + childURL(name, e.dir),
        Overwrite: 'F',
      });
      fresh.add(name);
      say('Renamed “' + e.name + '” to “' + name + '”.', 'ok');
    } catch (err) {
      fail('Could not rename “' + e.name + '”', err);
    }
    await refresh().catch((err) => fail('Reload failed', err));
  }

  async function remove(e) {
    const what = e.dir ? 'the folder “' + e.name + '” and everything in it' : '“' + e.name + '”';
    if (!window.confirm('Delete ' + what + '?')) return;
    try {
      await dav('DELETE', e.href);
      say('Deleted “' + e.name + '”.', 'ok');
    } catch (err) {
      fail('Could not delete “' + e.name + '”', err);
    }
    await refresh().catch((err) => fail('Reload failed', err));
  }

  // ---- upload ----

  const progress = $('progress');
  const bar = $('progress-bar');
  const progressText = $('progress-text');
  const progressPct = $('progress-pct');
  let uploading = false;
  const queue = [];

  // The upload in flight, so Cancel can abort it. An aborted PUT ends short on the server, which
  // then discards what arrived: the old file, or none, stays.
  let current = null;
  let cancelled = false;
  function putFile(file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      current = xhr;
      xhr.open('PUT', childURL(file.name, false));
      xhr.setRequestHeader('X-Requested-With', MARK['X-Requested-With']);
      xhr.upload.addEventListener('progress', (ev) => onProgress(ev.loaded));
      xhr.addEventListener('load', () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(httpError({ status: xhr.status }));
      });
      xhr.addEventListener('error', () => reject(new Error('network error')));
      xhr.addEventListener('abort', () => reject(new Error('cancelled')));
      xhr.addEventListener('loadend', () => { if (current === xhr) current = null; });
      xhr.send(file);
    });
  }

  function upload(files) {
    const list = Array.from(files);
    if (list.length === 0) return;
    const bad = list.filter((f) => !validName(f.name));
    const good = list.filter((f) => validName(f.name));
    const existing = good.filter((f) => entries.some((e) => e.name === f.name));
    if (existing.some((f) => entries.find((e) => e.name === f.name).dir)) {
      say('A folder has the same name as a file to upload; rename one of them first.', 'error');
      return;
    }
    if (existing.length > 0 &&
        !window.confirm('Replace ' + (existing.length === 1 ? '“' + existing[0].name + '”' : existing.length + ' existing files') + '?')) {
      return;
    }
    if (bad.length > 0) say('Skipped ' + bad.length + ' file(s) with names the server cannot store.', 'error');
    queue.push(...good);
    if (!uploading) drain();
  }

  $('upload-cancel').addEventListener('click', () => {
    cancelled = true;
    queue.length = 0;
    if (current) current.abort();
  });

  async function drain() {
    uploading = true;
    cancelled = false;
    $('upload-cancel').hidden = false;
    say('');
    progress.hidden = false;
    let done = 0;
    let failed = 0;
    let sentBefore = 0;
    while (queue.length > 0) {
      const total = sentBefore + queue.reduce((s, f) => s + f.size, 0);
      const file = queue.shift();
      const index = done + failed + 1;
      const count = index + queue.length;
      const show = (loaded) => {
        const ratio = total > 0 ? Math.min(1, (sentBefore + loaded) / total) : 1;
        bar.value = ratio;
        progressText.textContent = 'Uploading ' + index + ' of ' + count + ': ' + file.name;
        progressPct.textContent = Math.round(ratio * 100) + '%';
      };
      show(0);
      try {
        await putFile(file, show);
        done++;
        fresh.add(file.name);
      } catch (err) {
        if (cancelled) break;
        failed++;
        fail('Could not upload “' + file.name + '”', err);
      }
      sentBefore += file.size;
      show(0);
    }
    bar.value = 1;
    progressPct.textContent = '100%';
    progressText.textContent = 'Uploaded ' + done + ' file' + (done === 1 ? '' : 's') + (failed ? ', ' + failed + ' failed' : '') +
      (cancelled ? '; the rest cancelled' : '');
    $('upload-cancel').hidden = true;
    if (!failed) say(progressText.textContent + '.', cancelled ? '' : 'ok');
    uploading = false;
    await refresh().catch((err) => fail('Reload failed', err));
    setTimeout(() => { if (!uploading) progress.hidden = true; }, 1500);
  }

  const picker = $('picker');
  if (canWrite) {
    picker.addEventListener('change', () => {
      upload(picker.files);
      picker.value = '';
    });
    $('new-folder').addEventListener('click', newFolder);
  }

  // Drag and drop anywhere on the page. Folders are not uploaded (their entries are not files).
  const drop = $('drop');
  let depth = 0;
  const hasFiles = (ev) => ev.dataTransfer && Array.from(ev.dataTransfer.types || []).includes('Files');
  document.addEventListener('dragenter', (ev) => {
    if (!canWrite || !hasFiles(ev)) return;
    ev.preventDefault();
    depth++;
    drop.hidden = false;
  });
  document.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault(); // also where nothing may be uploaded: the browser must not open the file
    ev.dataTransfer.dropEffect = canWrite ? 'copy' : 'none';
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) drop.hidden = true;
  });
  document.addEventListener('drop', (ev) => {
    if (!ev.dataTransfer) return;
    if (!canWrite) { ev.preventDefault(); return; } // never let the browser open the file instead
    ev.preventDefault();
    depth = 0;
    drop.hidden = true;
    const files = [];
    let folders = 0;
    const items = ev.dataTransfer.items ? Array.from(ev.dataTransfer.items) : [];
    if (items.length > 0) {
      for (const it of items) {
        if (it.kind !== 'file') continue;
        const entry = it.webkitGetAsEntry ? it.webkitGetAsEntry() : null;
        if (entry && entry.isDirectory) { folders++; continue; }
        const f = it.getAsFile();
        if (f) files.push(f);
      }
    } else {
      files.push(...Array.from(ev.dataTransfer.files || []));
    }
    if (folders > 0) say('Folders cannot be uploaded by drag and drop; create the folder and drop its files into it.', 'error');
    upload(files);
  });

  // ---- start: adopt the server-rendered rows, then sort and decorate them ----

  entries = Array.from(tbody.rows, (tr) => ({
    name: tr.dataset.name,
    href: tr.dataset.href,
    dir: tr.dataset.dir === 'true',
    size: Number(tr.dataset.size) || 0,
    modified: tr.dataset.modified || '',
    etag: tr.dataset.etag || '',
    writable: tr.dataset.writable === 'true',
  }));
  render();
})();
