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
  const canShare = document.body.dataset.share === 'true';
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
  // The escaped URL of the top folder (the prefix), as the breadcrumb's home link has it.
  const rootHref = document.querySelector('.crumbs a.home').getAttribute('href');
  // folderURL turns a folder path typed by the user ("/Photos/2026", or "2026" relative to this
  // folder) into its escaped URL, or null when a segment is not a valid name.
  function folderURL(path) {
    const abs = path.startsWith('/');
    const segs = path.split('/').filter((x) => x !== '');
    if (!segs.every(validName)) return null;
    const base = abs ? rootHref : dirHref;
    return base + segs.map(encodeURIComponent).join('/') + (segs.length ? '/' : '');
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
  function kindOf(name) {
    const dot = name.lastIndexOf('.');
    return dot > 0 ? EXT.get(name.slice(dot + 1).toLowerCase()) : undefined;
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

  function sizeCell(e) { return el('td', 'c-size', e.dir ? '—' : formatSize(e.size)); }
  function modCell(e) {
    const mod = el('td', 'c-mod');
    if (e.modified) {
      const t = el('time', '', formatTime(e.modified));
      t.dateTime = e.modified;
      mod.append(t);
    }
    return mod;
  }
  // downloadLink: a file downloads as itself, a folder as one zip the server streams
  // (GET DIR/?download=zip); label names it for screen readers.
  function downloadLink(e, label) {
    const dl = el('a', 'act');
    dl.setAttribute('href', e.dir ? e.href + '?download=zip' : e.href);
    dl.setAttribute('download', e.dir ? e.name + '.zip' : e.name);
    dl.title = e.dir ? 'Download as zip' : 'Download';
    dl.setAttribute('aria-label', 'Download ' + label + (e.dir ? ' as zip' : ''));
    dl.append(icon('i-download'));
    return dl;
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

    const size = sizeCell(e);
    if (!e.dir) size.title = e.size.toLocaleString() + ' bytes';
    const mod = modCell(e);

    if (!e.dir && PREVIEW.has(kindOf(e.name))) {
      a.addEventListener('click', (ev) => {
        if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        preview(e);
      });
    }

    const act = el('td', 'c-act');
    act.append(downloadLink(e, e.name));
    // Renaming writes the folder's namespace and the member; deleting, the member.
    if (e.writable && canWrite) act.append(actionButton('i-rename', 'Rename ' + e.name, 'ren', () => rename(e)));
    if (e.writable && canWrite) act.append(actionButton('i-move', 'Move ' + e.name, 'mov', () => move(e)));
    if (canShare) act.append(actionButton('i-share', 'Share ' + e.name, 'shr', () => openShare(e)));
    if (e.writable) act.append(actionButton('i-trash', 'Delete ' + e.name, 'del', () => remove(e)));
    // Drag a row onto a folder (a row or a breadcrumb) to move it there.
    if (e.writable && canWrite) {
      tr.draggable = true;
      tr.addEventListener('dragstart', (ev) => {
        dragged = selected.has(e.name) && selected.size > 1 ? { multi: selectedEntries() } : e;
        ev.dataTransfer.effectAllowed = 'move';
        ev.dataTransfer.setData('text/plain', e.name);
      });
      tr.addEventListener('dragend', () => { dragged = null; });
    }
    if (e.dir) dropTarget(tr, () => e.href, e);
    tr.append(selectCell(e, tr), name, size, mod, act);
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

  // A folder of up to ALL_ROWS entries is in the page whole. A bigger one is only a window of
  // rows around what is on screen, between two spacer rows that keep the scroll height: a sort,
  // a filter or a reload of 10,000 entries then builds a few hundred rows, not 10,000 (which
  // take seconds to lay out in Chromium, and as long again to tear down).
  const ALL_ROWS = 500;
  const WIN_ROWS = 200; // rows in a window
  const WIN_EDGE = 30; // scrolling this close to a window's edge moves the window
  const table = $('listing');
  let sorted = []; // entries in display order
  let view = []; // sorted and filtered: what a windowed listing shows
  let windowed = false;
  let win = [0, 0]; // the window, as indexes into view
  let rowH = 0; // a row's height in pixels, measured
  function spacer() {
    const tr = el('tr', 'spacer');
    tr.setAttribute('aria-hidden', 'true');
    const td = el('td');
    td.colSpan = 5;
    tr.append(td);
    return tr;
  }
  const topPad = spacer();
  const bottomPad = spacer();

  // setView filters a windowed listing anew and shows it from its first rows.
  function setView() {
    const term = filterTerm();
    view = term === '' ? sorted : sorted.filter((e) => e.name.toLowerCase().includes(term));
    table.setAttribute('aria-rowcount', String(view.length + 1));
    win = [0, 0];
    paint(true);
  }

  // paint moves the window to what is on screen. Rows that stay in the window stay in the page
  // (a focused row keeps its focus); with fresh, every row is built anew.
  function paint(fresh) {
    if (!windowed || hits !== null) return;
    if (tbody.firstChild !== topPad) tbody.replaceChildren(topPad, bottomPad);
    const h = rowH || 41;
    const first = Math.max(0, Math.floor(-tbody.getBoundingClientRect().top / h));
    const count = Math.ceil(window.innerHeight / h) + 1;
    const inside = first - WIN_EDGE >= win[0] || win[0] === 0;
    const below = first + count + WIN_EDGE <= win[1] || win[1] >= view.length;
    if (!fresh && inside && below && win[1] > win[0]) return;
    const start = Math.max(0, Math.min(first - Math.floor((WIN_ROWS - count) / 2), view.length - WIN_ROWS));
    const end = Math.min(view.length, start + WIN_ROWS);
    const old = new Map();
    for (let tr = topPad.nextSibling; tr !== bottomPad; tr = tr.nextSibling) old.set(tr.dataset.name, tr);
    const rows = view.slice(start, end).map((e, i) => {
      const tr = (!fresh && old.get(e.name)) || row(e);
      tr.setAttribute('aria-rowindex', String(start + i + 2));
      return tr;
    });
    const keep = new Set(rows);
    for (const tr of old.values()) if (!keep.has(tr)) tr.remove();
    let at = topPad.nextSibling;
    for (const tr of rows) {
      if (tr === at) at = at.nextSibling;
      else tbody.insertBefore(tr, at);
    }
    win = [start, end];
    if (rows.length > 0) rowH = rows[0].getBoundingClientRect().height || rowH;
    topPad.firstChild.style.height = start * (rowH || h) + 'px';
    bottomPad.firstChild.style.height = (view.length - end) * (rowH || h) + 'px';
  }
  let paintQueued = false;
  function queuePaint() {
    if (!windowed || paintQueued) return;
    paintQueued = true;
    requestAnimationFrame(() => { paintQueued = false; paint(false); });
  }
  window.addEventListener('scroll', queuePaint, { passive: true });
  window.addEventListener('resize', queuePaint);

  function render() {
    if (hits !== null) return; // search results are shown; the listing comes back with Esc
    sorted = entries.slice().sort(compare);
    windowed = sorted.length > ALL_ROWS;
    if (windowed) {
      setView();
    } else {
      table.removeAttribute('aria-rowcount');
      tbody.replaceChildren(...sorted.map(row));
      applyFilter();
    }
    emptyBox.hidden = sorted.length > 0;
    for (const th of document.querySelectorAll('#listing th')) {
      const b = th.querySelector('button[data-key]');
      if (b && b.dataset.key === sortKey) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    fresh.clear();
    for (const n of selected) if (!entries.some((x) => x.name === n)) selected.delete(n);
    updateBulk();
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

  // ---- selection and bulk actions ----
  // A checkbox per row (Space toggles it from the keyboard); shift-click selects the range from
  // the last one clicked. The bar acts on every selected entry: one zip of them all, copy or move
  // to a folder, delete, or drag a selected row onto a folder to move them all.

  const selected = new Set(); // names of the selected entries
  let anchorName = null;
  const selectAll = $('select-all');
  function selectedEntries() { return entries.filter((x) => selected.has(x.name)); }
  // listedNames lists the names the listing shows, in order (all of them, also those outside
  // a window), for a shift-click's range.
  function listedNames() {
    if (windowed) return view.map((x) => x.name);
    return Array.from(tbody.rows).filter((tr) => !tr.hidden && !tr.classList.contains('hit')).map((tr) => tr.dataset.name);
  }
  function selectCell(e, tr) {
    const td = el('td', 'c-sel');
    const cb = el('input');
    cb.type = 'checkbox';
    cb.checked = selected.has(e.name);
    cb.setAttribute('aria-label', 'Select ' + e.name);
    if (cb.checked) tr.classList.add('selected');
    cb.addEventListener('click', (ev) => {
      const names = listedNames();
      const here = names.indexOf(e.name);
      const from = anchorName === null ? -1 : names.indexOf(anchorName);
      if (ev.shiftKey && from >= 0 && here >= 0) {
        const [a, b] = from < here ? [from, here] : [here, from];
        for (const n of names.slice(a, b + 1)) {
          if (cb.checked) selected.add(n); else selected.delete(n);
        }
      } else if (cb.checked) {
        selected.add(e.name);
      } else {
        selected.delete(e.name);
      }
      anchorName = e.name;
      updateBulk();
    });
    td.append(cb);
    return td;
  }
  function updateBulk() {
    for (const tr of tbody.rows) {
      if (tr.classList.contains('hit') || tr.classList.contains('spacer')) continue;
      const on = selected.has(tr.dataset.name);
      tr.classList.toggle('selected', on);
      const cb = tr.querySelector('.c-sel input');
      if (cb) cb.checked = on;
    }
    const n = selected.size;
    $('bulk').hidden = n === 0;
    $('bulk-count').textContent = n + ' selected';
    selectAll.checked = n > 0 && n === entries.length;
    selectAll.indeterminate = n > 0 && n < entries.length;
    const zip = $('bulk-zip');
    zip.setAttribute('href', dirHref + '?download=zip&' + [...selected].map((x) => 'select=' + encodeURIComponent(x)).join('&'));
    const folder = document.body.dataset.path === '/' ? document.title.split(' · ').pop() : document.body.dataset.path.split('/').pop();
    zip.setAttribute('download', folder + '.zip');
  }
  selectAll.addEventListener('change', () => {
    if (selectAll.checked) for (const x of entries) selected.add(x.name);
    else selected.clear();
    anchorName = null;
    updateBulk();
  });
  $('bulk-clear').addEventListener('click', () => { selected.clear(); anchorName = null; updateBulk(); });

  // bulkTransfer copies or moves the entries into the folder destDir (escaped URL), never
  // replacing anything there (Overwrite: F), and reports how many made it.
  async function bulkTransfer(method, list, destDir) {
    if (!destDir) return;
    let done = 0;
    const failed = [];
    for (const e of list) {
      if (method === 'MOVE' && (destDir === dirHref || (e.dir && destDir.startsWith(e.href)))) { failed.push(e.name); continue; }
      try {
        await dav(method, e.href, { Destination: location.origin + destDir + encodeURIComponent(e.name) + (e.dir ? '/' : ''), Overwrite: 'F' });
        done++;
        if (method === 'MOVE') selected.delete(e.name); // what failed stays selected
      } catch {
        failed.push(e.name);
      }
    }
    const verb = method === 'MOVE' ? 'Moved' : 'Copied';
    if (failed.length) say(verb + ' ' + done + ' of ' + list.length + '; not: ' + failed.join(', ') + ' (already there, not allowed, or into itself).', 'error');
    else say(verb + ' ' + done + (done === 1 ? ' item' : ' items') + ' to ' + decodeURIComponent(destDir.slice(rootHref.length - 1)) + '.', 'ok');
    await refresh().catch((err) => fail('Reload failed', err));
  }
  async function askFolder(verb) {
    const here = document.body.dataset.path;
    const n = selected.size;
    const path = await askName(verb + ' ' + n + (n === 1 ? ' item' : ' items') + ' to folder', verb, here === '/' ? '/' : here + '/',
      (p) => folderURL(p) === null ? 'A folder path like /Photos/2026; a name cannot be "." or "..", or contain a backslash.' : '');
    return path === null ? null : folderURL(path);
  }
  $('bulk-copy').addEventListener('click', async () => bulkTransfer('COPY', selectedEntries(), await askFolder('Copy')));
  if (canWrite) {
    $('bulk-move').addEventListener('click', async () => bulkTransfer('MOVE', selectedEntries(), await askFolder('Move')));
    $('bulk-delete').addEventListener('click', async () => {
      const list = selectedEntries();
      if (!list.length || !window.confirm('Delete ' + list.length + (list.length === 1 ? ' item' : ' items') + ' (folders with everything in them)?')) return;
      const failed = [];
      for (const e of list) {
        try { await dav('DELETE', e.href); } catch { failed.push(e.name); }
      }
      selected.clear();
      if (failed.length) say('Deleted ' + (list.length - failed.length) + ' of ' + list.length + '; not: ' + failed.join(', ') + '.', 'error');
      else say('Deleted ' + list.length + (list.length === 1 ? ' item.' : ' items.'), 'ok');
      await refresh().catch((err) => fail('Reload failed', err));
    });
  }

  // ---- preview ----
  // Images, audio, video and PDF go to the browser's own viewers (same-origin elements); text
  // and code are fetched (the first 256 KiB) and shown as text, never parsed as markup. HTML and
  // other active files are shown as their source text: the page never renders them.

  const MARKDOWN_LIMIT = 1 << 20; // bigger Markdown files are shown as their source
  const PREVIEW = new Set(['image', 'audio', 'video', 'pdf', 'text', 'code']);
  const TEXT_LIMIT = 256 * 1024;
  const pv = $('preview');
  let pvAbort = null;
  async function preview(e) {
    const kind = kindOf(e.name);
    const body = $('pv-body');
    if (pvAbort) pvAbort.abort();
    body.replaceChildren();
    $('pv-title').textContent = e.name;
    $('pv-open').setAttribute('href', e.href);
    $('pv-download').setAttribute('href', e.href);
    $('pv-download').setAttribute('download', e.name);
    if (!pv.open) pv.showModal();
    if (kind === 'image') {
      const img = el('img');
      img.alt = e.name;
      img.src = e.href;
      body.append(img);
    } else if (kind === 'audio' || kind === 'video') {
      const m = el(kind);
      m.controls = true;
      m.preload = 'metadata';
      m.src = e.href;
      m.setAttribute('aria-label', e.name);
      body.append(m);
    } else if (kind === 'pdf') {
      const f = el('iframe');
      f.title = e.name;
      f.src = e.href;
      body.append(f);
    } else if (/\.(md|markdown)$/i.test(e.name) && e.size <= MARKDOWN_LIMIT) {
      // Markdown as the server renders it (GET FILE?view=html: no raw HTML, no script, a CSP
      // sandbox), in a frame sandboxed once more.
      const f = el('iframe', 'pv-md');
      f.title = e.name;
      f.setAttribute('sandbox', '');
      f.src = e.href + '?view=html';
      body.append(f);
    } else {
      const ctl = new AbortController();
      pvAbort = ctl;
      const pre = el('pre');
      pre.tabIndex = 0;
      pre.setAttribute('aria-label', 'Contents of ' + e.name);
      body.append(pre);
      try {
        const res = await fetch(e.href, { headers: { Range: 'bytes=0-' + (TEXT_LIMIT - 1) }, signal: ctl.signal, credentials: 'same-origin' });
        if (!res.ok) throw httpError(res);
        pre.textContent = await res.text();
        if (e.size > TEXT_LIMIT) body.append(el('p', 'pv-note', 'The first 256 KiB of ' + formatSize(e.size) + '; Open or Download for the rest.'));
      } catch (err) {
        if (err.name !== 'AbortError') pre.textContent = 'Could not read the file: ' + err.message;
      }
    }
    $('pv-close').focus();
  }
  function closePreview() {
    if (pvAbort) pvAbort.abort();
    pvAbort = null;
    for (const m of $('pv-body').querySelectorAll('audio, video')) m.pause();
    $('pv-body').replaceChildren();
    if (pv.open) pv.close();
  }
  $('pv-close').addEventListener('click', closePreview);
  pv.addEventListener('cancel', (ev) => { ev.preventDefault(); closePreview(); });

  // ---- filter and search ----
  // Typing filters the rows already here (no request); Enter asks the server for every match in
  // this folder and below (GET DIR/?search=, newline-delimited JSON, bounded) and shows those.

  const searchBox = $('search');
  let hits = null; // the search results shown instead of the listing, or null
  let searching = null; // the AbortController of the search in flight
  function filterTerm() { return searchBox.value.trim().toLowerCase(); }
  function filterRow(tr, term) {
    tr.hidden = term !== '' && !(tr.dataset.path || tr.dataset.name).toLowerCase().includes(term);
  }
  function applyFilter() {
    if (windowed && hits === null) { setView(); return; }
    const term = filterTerm();
    for (const tr of tbody.rows) filterRow(tr, term);
  }
  function hitRow(h) {
    const tr = el('tr', (h.dir ? 'dir' : 'file') + ' hit');
    tr.dataset.name = h.name;
    tr.dataset.path = h.path;
    const name = el('td', 'c-name');
    const a = el('a');
    a.setAttribute('href', h.href);
    a.append(icon(iconFor(h.name, h.dir)), el('span', 'name', h.path));
    name.append(a);
    const act = el('td', 'c-act');
    act.append(downloadLink(h, h.path));
    tr.append(name, sizeCell(h), modCell(h), act);
    return tr;
  }
  function showListing() {
    if (searching) searching.abort();
    searching = null;
    if (hits === null) return;
    hits = null;
    document.body.classList.remove('searching');
    render();
  }
  async function searchBelow(term) {
    if (searching) searching.abort();
    const ctl = new AbortController();
    searching = ctl;
    hits = [];
    document.body.classList.add('searching');
    tbody.replaceChildren();
    emptyBox.hidden = true;
    say('Searching…');
    try {
      const res = await fetch(dirHref + '?search=' + encodeURIComponent(term) + '&format=json', { signal: ctl.signal, credentials: 'same-origin' });
      if (!res.ok) throw httpError(res);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let end = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const obj = JSON.parse(line);
          if (obj.done) { end = obj; continue; }
          hits.push(obj);
          tbody.append(hitRow(obj));
        }
      }
      if (searching !== ctl) return;
      searching = null;
      const n = hits.length;
      say((n === 0 ? 'Nothing' : n + (n === 1 ? ' match' : ' matches')) + ' for “' + term + '” here and below' +
        (end && end.truncated ? ' (stopped early: narrow the search)' : '') + '. Esc shows the folder again.', 'ok');
    } catch (err) {
      if (err.name === 'AbortError') return;
      fail('Search failed', err);
    }
  }
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault(); // never a real form submission
    const term = searchBox.value.trim();
    if (term === '') showListing();
    else searchBelow(term);
  });
  searchBox.addEventListener('input', () => {
    if (hits !== null && searchBox.value.trim() === '') showListing();
    applyFilter();
  });
  searchBox.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      searchBox.value = '';
      showListing();
      applyFilter();
    }
  });

  // ---- share links (server/sharelink: POST to create, GET .davd-share/ to list, DELETE to revoke) ----

  const linksURL = rootHref + '.davd-share/';
  let shareFor = null; // the entry whose links the dialog shows; null: all of the user's links

  function entryPath(e) {
    const here = document.body.dataset.path;
    return (here === '/' ? '' : here) + '/' + e.name;
  }
  function describe(l) {
    const what = l.kind === 'upload' ? 'Upload only' : 'View and download';
    const when = l.expires ? 'expires ' + formatTime(l.expires) : 'never expires';
    return (shareFor ? '' : (l.path || '(no longer in your folders)') + ' · ') + what + ' · ' + when + (l.password ? ' · password' : '');
  }
  function linkItem(l) {
    const li = el('li');
    li.dataset.url = l.url;
    li.append(el('div', 'what', describe(l)));
    const rowEl = el('div', 'url-row');
    const input = el('input');
    input.readOnly = true;
    input.value = new URL(l.url, location.origin).href;
    input.setAttribute('aria-label', 'Link URL');
    input.addEventListener('focus', () => input.select());
    const copy = el('button', 'btn small', 'Copy');
    copy.type = 'button';
    copy.addEventListener('click', async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        say('Link copied.', 'ok');
      } catch {
        say('Select the link and copy it (the browser does not allow this page to copy).', 'error');
      }
    });
    const revoke = el('button', 'btn small danger', 'Revoke');
    revoke.type = 'button';
    revoke.addEventListener('click', async () => {
      const res = await fetch(l.url, { method: 'DELETE', headers: MARK, credentials: 'same-origin' });
      if (res.status === 204 || res.status === 404) {
        li.remove();
        $('share-none').hidden = $('share-links').children.length > 0;
        say('Link revoked: it no longer works.', 'ok');
      } else {
        fail('Could not revoke the link', httpError(res));
      }
    });
    rowEl.append(input, copy, revoke);
    li.append(rowEl);
    return li;
  }
  async function loadLinks() {
    const list = $('share-links');
    list.replaceChildren();
    const res = await fetch(linksURL, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    if (!res.ok) throw httpError(res);
    const { links } = await res.json();
    const mine = links.filter((l) => !shareFor || l.path === entryPath(shareFor));
    mine.sort((a, b) => (b.created || '').localeCompare(a.created || ''));
    for (const l of mine) list.append(linkItem(l));
    $('share-none').hidden = mine.length > 0;
  }
  async function openShare(e) {
    const d = $('share-dialog');
    if (d.open) return;
    shareFor = e;
    $('share-title').textContent = e ? 'Share “' + e.name + '”' : 'Your share links';
    $('share-new').hidden = !e;
    $('share-upload-opt').hidden = !(e && e.dir && e.writable);
    document.querySelector('input[name="share-kind"][value="read"]').checked = true;
    $('share-password').value = '';
    $('share-error').textContent = '';
    d.showModal();
    try {
      await loadLinks();
    } catch (err) {
      $('share-error').textContent = 'Could not list the links: ' + err.message;
    }
  }
  if (canShare) {
    $('my-links').addEventListener('click', () => openShare(null));
    $('share-close').addEventListener('click', () => $('share-dialog').close());
    $('share-form').addEventListener('submit', async (ev) => {
      ev.preventDefault(); // never a real form submission
      if (!shareFor) return;
      const form = new URLSearchParams();
      form.set('share', document.querySelector('input[name="share-kind"]:checked').value);
      if ($('share-expires').value) form.set('expires', $('share-expires').value);
      if ($('share-password').value) form.set('password', $('share-password').value);
      const res = await fetch(shareFor.href, {
        method: 'POST', body: form, credentials: 'same-origin',
        headers: { ...MARK, 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      if (res.status !== 201) {
        $('share-error').textContent = 'Could not create the link: ' + (await res.text()).trim();
        return;
      }
      const l = await res.json();
      $('share-password').value = '';
      $('share-none').hidden = true;
      const li = linkItem(l);
      $('share-links').prepend(li);
      li.querySelector('input').focus();
      say('Link created.', 'ok');
    });
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

  // moveTo moves e into the folder whose escaped URL is destDir (MOVE, Overwrite: F: an entry of
  // the same name there is never replaced).
  async function moveTo(e, destDir) {
    if (destDir === dirHref) return;
    if (e.dir && destDir.startsWith(e.href)) {
      say('A folder cannot be moved into itself.', 'error');
      return;
    }
    try {
      await dav('MOVE', e.href, { Destination: location.origin + destDir + encodeURIComponent(e.name) + (e.dir ? '/' : ''), Overwrite: 'F' });
      say('Moved “' + e.name + '” to ' + decodeURIComponent(destDir.slice(rootHref.length - 1)) + '.', 'ok');
    } catch (err) {
      fail('Could not move “' + e.name + '”', err);
    }
    await refresh().catch((err) => fail('Reload failed', err));
  }

  async function move(e) {
    const here = document.body.dataset.path;
    const path = await askName('Move “' + e.name + '” to folder', 'Move', here === '/' ? '/' : here + '/',
      (p) => folderURL(p) === null ? 'A folder path like /Photos/2026; a name cannot be "." or "..", or contain a backslash.' : '');
    if (path === null) return;
    await moveTo(e, folderURL(path));
  }

  // dropTarget makes el (a folder row or a breadcrumb link) accept a dragged row: it is moved
  // into the folder hrefOf() names. A row is never dropped on itself.
  let dragged = null;
  function dropTarget(el, hrefOf, self) {
    el.addEventListener('dragover', (ev) => {
      if (!dragged || dragged === self || (dragged.multi && dragged.multi.includes(self))) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'move';
      el.classList.add('drop-here');
    });
    el.addEventListener('dragleave', () => el.classList.remove('drop-here'));
    el.addEventListener('drop', (ev) => {
      el.classList.remove('drop-here');
      if (!dragged || dragged === self || (dragged.multi && dragged.multi.includes(self))) return;
      ev.preventDefault();
      ev.stopPropagation(); // not an upload
      const e = dragged;
      dragged = null;
      if (e.multi) bulkTransfer('MOVE', e.multi, hrefOf());
      else moveTo(e, hrefOf());
    });
  }
  if (canWrite) {
    for (const a of document.querySelectorAll('.crumbs a')) dropTarget(a, () => a.getAttribute('href'), null);
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
  // relURL is the escaped URL of a path relative to this folder ("Trip/day 1/a.jpg").
  function relURL(path, dir) {
    return dirHref + path.split('/').map(encodeURIComponent).join('/') + (dir ? '/' : '');
  }
  // ensureFolders creates the folders on the way to item.path (a folder upload), once each.
  const made = new Set();
  async function ensureFolders(path) {
    const segs = path.split('/').slice(0, -1);
    for (let i = 1; i <= segs.length; i++) {
      const dir = segs.slice(0, i).join('/');
      if (made.has(dir)) continue;
      const res = await fetch(relURL(dir, true), { method: 'MKCOL', headers: MARK, credentials: 'same-origin' });
      if (!res.ok && res.status !== 405) throw httpError(res, 'creating ' + dir);
      made.add(dir);
    }
  }
  // xhrPut PUTs body to url with upload progress (XMLHttpRequest: fetch has none), as the
  // current request that Cancel aborts.
  function xhrPut(url, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      current = xhr;
      xhr.open('PUT', url);
      xhr.setRequestHeader('X-Requested-With', MARK['X-Requested-With']);
      xhr.upload.addEventListener('progress', (ev) => onProgress(ev.loaded));
      xhr.addEventListener('load', () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(httpError({ status: xhr.status }));
      });
      xhr.addEventListener('error', () => { const e = new Error('network error'); e.network = true; reject(e); });
      xhr.addEventListener('abort', () => reject(new Error('cancelled')));
      xhr.addEventListener('loadend', () => { if (current === xhr) current = null; });
      xhr.send(body);
    });
  }
  function putFile(item, onProgress) {
    if (chunkBase && item.file.size > CHUNK) return chunkedPut(item, onProgress);
    return xhrPut(relURL(item.path, false), item.file, onProgress);
  }

  // ---- resumable uploads ----
  // With the Nextcloud layout on, a file over CHUNK goes in CHUNK-sized pieces into an upload
  // folder of the user's (MKCOL …/uploads/USER/ID/, PUT …/ID/1, /2, …), and a MOVE of ID/.file
  // assembles them into the destination (server/nextcloud). A piece cut off by the network is
  // sent again; ID depends only on the destination and the file (name, size, modification
  // time), so after a reload, uploading the same file again sends only the missing pieces.
  const chunkBase = document.body.dataset.chunks || ''; // escaped, ends with "/"
  const chunkDest = document.body.dataset.chunkDest || ''; // this folder in the files space
  const CHUNK = 8 << 20;
  const CHUNK_TRIES = 5;
  function fnv(str, seed) {
    let h = seed >>> 0;
    for (let i = 0; i < str.length; i++) h = Math.imul(h ^ str.charCodeAt(i), 16777619) >>> 0;
    return h.toString(16).padStart(8, '0');
  }
  function uploadId(item) {
    const key = chunkDest + '\n' + item.path + '\n' + item.file.size + '\n' + item.file.lastModified;
    return 'web-' + fnv(key, 2166136261) + fnv(key, 374761393) + fnv(key, 668265263);
  }
  // chunksThere lists the pieces an earlier attempt left in dir: name → size; null: no dir.
  // (XMLHttpRequest parses the XML: DOMParser is a Trusted Types sink, which the page's CSP
  // closes.)
  function chunksThere(dir) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PROPFIND', dir);
      xhr.setRequestHeader('X-Requested-With', MARK['X-Requested-With']);
      xhr.setRequestHeader('Depth', '1');
      xhr.responseType = 'document';
      xhr.overrideMimeType('application/xml');
      xhr.addEventListener('load', () => {
        if (xhr.status === 404) { resolve(null); return; }
        if (xhr.status !== 207 || !xhr.responseXML) { reject(httpError({ status: xhr.status }, 'reading an earlier upload')); return; }
        const have = new Map();
        for (const r of xhr.responseXML.getElementsByTagNameNS('DAV:', 'response')) {
          const href = r.getElementsByTagNameNS('DAV:', 'href')[0];
          const len = r.getElementsByTagNameNS('DAV:', 'getcontentlength')[0];
          if (!href || !len) continue;
          const name = decodeURIComponent(href.textContent.replace(/\/$/, '').split('/').pop());
          have.set(name, Number(len.textContent));
        }
        resolve(have);
      });
      xhr.addEventListener('error', () => { const e = new Error('network error'); e.network = true; reject(e); });
      xhr.send();
    });
  }
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
  async function chunkedPut(item, onProgress) {
    const file = item.file;
    const dir = chunkBase + uploadId(item) + '/';
    let have = await chunksThere(dir);
    if (have === null) {
      const res = await fetch(dir, { method: 'MKCOL', headers: MARK, credentials: 'same-origin' });
      if (!res.ok) throw httpError(res, 'starting the upload');
      have = new Map();
    }
    let sent = 0;
    for (let i = 0, start = 0; start < file.size; i++, start += CHUNK) {
      const end = Math.min(file.size, start + CHUNK);
      const name = String(i + 1);
      if (have.get(name) !== end - start) {
        for (let attempt = 1; ; attempt++) {
          try {
            await xhrPut(dir + name, file.slice(start, end), (loaded) => onProgress(sent + loaded));
            break;
          } catch (err) {
            if (cancelled || !err.network || attempt >= CHUNK_TRIES) throw err;
            say('The network failed; sending piece ' + name + ' again…');
            await sleep(300 * attempt);
          }
        }
      }
      sent += end - start;
      onProgress(sent);
    }
    const res = await fetch(dir + '.file', {
      method: 'MOVE',
      credentials: 'same-origin',
      headers: {
        ...MARK,
        Destination: new URL(chunkDest + item.path.split('/').map(encodeURIComponent).join('/'), location.href).href,
        'OC-Total-Length': String(file.size),
        'X-OC-Mtime': String(Math.floor(file.lastModified / 1000)),
      },
    });
    if (!res.ok) throw httpError(res, 'assembling the upload');
  }

  // upload queues files, each {file, path} with path relative to this folder ("a.txt", or
  // "Trip/day 1/a.jpg" for a folder upload), or plain File objects (path = name).
  function upload(files) {
    const list = Array.from(files, (f) => (f instanceof File ? { file: f, path: f.webkitRelativePath || f.name } : f));
    if (list.length === 0) return;
    const okPath = (it) => it.path.split('/').every(validName);
    const bad = list.filter((it) => !okPath(it));
    const good = list.filter(okPath);
    const top = (it) => it.path.split('/')[0];
    const loose = good.filter((it) => !it.path.includes('/'));
    const existing = loose.filter((it) => entries.some((e) => e.name === it.path));
    const folders = [...new Set(good.filter((it) => it.path.includes('/')).map(top))];
    if (existing.some((it) => entries.find((e) => e.name === it.path).dir) ||
        folders.some((n) => entries.some((e) => e.name === n && !e.dir))) {
      say('A folder has the same name as a file to upload; rename one of them first.', 'error');
      return;
    }
    const merging = folders.filter((n) => entries.some((e) => e.name === n));
    if (existing.length > 0 &&
        !window.confirm('Replace ' + (existing.length === 1 ? '“' + existing[0].path + '”' : existing.length + ' existing files') + '?')) {
      return;
    }
    if (merging.length > 0 &&
        !window.confirm('Upload into the existing folder' + (merging.length === 1 ? ' “' + merging[0] + '”' : 's ' + merging.join(', ')) + '? Files of the same name there are replaced.')) {
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
    made.clear(); // folders may have changed since the last upload
    cancelled = false;
    $('upload-cancel').hidden = false;
    say('');
    progress.hidden = false;
    let done = 0;
    let failed = 0;
    let sentBefore = 0;
    while (queue.length > 0) {
      const total = sentBefore + queue.reduce((s, it) => s + it.file.size, 0);
      const item = queue.shift();
      const file = item.file;
      const index = done + failed + 1;
      const count = index + queue.length;
      const show = (loaded) => {
        const ratio = total > 0 ? Math.min(1, (sentBefore + loaded) / total) : 1;
        bar.value = ratio;
        progressText.textContent = 'Uploading ' + index + ' of ' + count + ': ' + item.path;
        progressPct.textContent = Math.round(ratio * 100) + '%';
      };
      show(0);
      try {
        await ensureFolders(item.path);
        await putFile(item, show);
        done++;
        fresh.add(item.path.split('/')[0]);
      } catch (err) {
        if (cancelled) break;
        failed++;
        fail('Could not upload “' + item.path + '”', err);
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
    const folderPicker = $('folder-picker');
    folderPicker.addEventListener('change', () => {
      upload(folderPicker.files); // each File carries webkitRelativePath ("Trip/day 1/a.jpg")
      folderPicker.value = '';
    });
    $('new-folder').addEventListener('click', newFolder);
  }

  // Drag and drop anywhere on the page; a dropped folder is walked (FileSystemEntry API) and
  // uploaded whole, at most MAX_DROP files.
  const MAX_DROP = 10000;
  async function walkEntry(entry, prefix, out) {
    if (out.length >= MAX_DROP) return;
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, path: prefix + entry.name });
      return;
    }
    if (!entry.isDirectory) return;
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      if (batch.length === 0) break;
      for (const child of batch) await walkEntry(child, prefix + entry.name + '/', out);
    }
  }
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
    const dirs = [];
    const items = ev.dataTransfer.items ? Array.from(ev.dataTransfer.items) : [];
    if (items.length > 0) {
      for (const it of items) {
        if (it.kind !== 'file') continue;
        const entry = it.webkitGetAsEntry ? it.webkitGetAsEntry() : null;
        if (entry && entry.isDirectory) { dirs.push(entry); continue; }
        const f = it.getAsFile();
        if (f) files.push({ file: f, path: f.name });
      }
    } else {
      files.push(...Array.from(ev.dataTransfer.files || [], (f) => ({ file: f, path: f.name })));
    }
    if (dirs.length === 0) { upload(files); return; }
    (async () => {
      for (const d of dirs) await walkEntry(d, '', files);
      if (files.length >= MAX_DROP) say('Only the first ' + MAX_DROP + ' files are uploaded.', 'error');
      upload(files);
    })().catch((err) => fail('Could not read the dropped folder', err));
  });

  // ---- sign-out ----
  // Basic authentication has no sign-out. A 401 to a request that carries the remembered
  // credentials makes the browser drop them; this one offers no Basic challenge, so the browser
  // asks nothing until the reload, which comes without credentials and gets the sign-in.
  const signOut = $('sign-out');
  if (signOut) {
    signOut.addEventListener('click', async () => {
      try {
        await fetch(dirHref + '?davd-signout', { credentials: 'same-origin', cache: 'no-store', headers: MARK });
      } catch (err) {
        // Offline: the reload below says so.
      }
      location.reload();
    });
  }

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
  // A big folder's page holds its first rows only: the whole listing comes as JSON.
  if (Number(document.body.dataset.total) > entries.length) refresh().catch((err) => fail('Could not load the whole folder', err));
})();
