// Runs in each page of the browser check (scripts/browser_check.py): every defect as {kind, element, detail}.
(minScale) => {
  const MIN_SCALE = minScale ?? 0.6;  // Playwright passes null when no argument is given
  const out = [];
  const main = document.querySelector('main') || document.body;
  const column = main.querySelector('article') || main;
  const limit = column.getBoundingClientRect().right + 1;
  // a cell tagged full-width is meant to span the margin beside the column too: its limit is the main area's edge
  const wideLimit = main.getBoundingClientRect().right + 1;
  const limitOf = el => (el.closest('.tag_full-width') ? wideLimit : limit);
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).slice(0, 2).join('.') : '');
  const scrollers = new Set();
  for (const el of column.querySelectorAll('*')) {
    const s = getComputedStyle(el);
    if (['auto', 'scroll'].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 1) scrollers.add(el);
  }
  const insideScroller = el => { for (let p = el.parentElement; p; p = p.parentElement) if (scrollers.has(p)) return true; return false; };
  for (const el of column.querySelectorAll('mjx-container[display="true"], img, table, figure, pre, .cell_output')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    if (r.right > limitOf(el) && !insideScroller(el)) out.push({kind: 'wider than the column', element: name(el), detail: `${Math.round(r.width)} px, right edge ${Math.round(r.right)} > ${Math.round(limitOf(el))}`});
  }
  for (const el of scrollers) {
    if (el.matches('mjx-container, mjx-container *, .MathJax')) out.push({kind: 'maths scrolls sideways', element: name(el), detail: `${el.scrollWidth} px in ${el.clientWidth} px`});
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push({kind: 'page scrolls sideways', element: 'html', detail: `${document.documentElement.scrollWidth} px in ${window.innerWidth} px`});
  for (const el of document.querySelectorAll('mjx-merror, .MathJax_Error')) out.push({kind: 'MathJax error', element: name(el), detail: el.textContent.slice(0, 80)});
  for (const img of column.querySelectorAll('img')) {
    const alt = (img.getAttribute('alt') || '').trim();
    if (!img.complete || img.naturalWidth === 0) out.push({kind: 'image not loaded', element: name(img), detail: img.getAttribute('src')});
    if (!alt || /\.(png|svg|jpe?g|gif)$/i.test(alt) || /^(\.\.\/|_images\/|\/)/.test(alt)) out.push({kind: 'no real alt text', element: name(img), detail: alt.slice(0, 80)});
  }
  for (const el of column.querySelectorAll('.output.stderr, .output.traceback, .output.error')) out.push({kind: 'stderr or traceback in an output', element: name(el), detail: el.textContent.trim().slice(0, 80)});
  // a figure drawn much wider than the column and shrunk to fit on a desktop: its lettering shrinks with it
  for (const img of column.querySelectorAll('img')) {
    const shown = img.getBoundingClientRect().width;
    if (window.innerWidth >= 1000 && img.naturalWidth > 400 && shown > 0 && shown / img.naturalWidth < MIN_SCALE) out.push({kind: 'figure shrunk', element: name(img), detail: `drawn ${img.naturalWidth} px, shown ${Math.round(shown)} px (${Math.round(100 * shown / img.naturalWidth)}%)`});
  }
  // cross-reference syntax or labels that reached the reader instead of a number
  const leaks = [/\beq\.\s*\(eq-[\w-]+\)/i, /\beq\.\s+eq\.\s*\d/i, /\{(eq|numref|ref|cite|cite:p|cite:t|glue|glue:text)\}`/, /\?\?\?/];
  const walker = document.createTreeWalker(column, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest('pre, code, script, style, .highlight, mjx-container')) continue;
    for (const re of leaks) {
      const m = node.textContent.match(re);
      if (m) out.push({kind: 'raw label in the text', element: name(node.parentElement), detail: m[0]});
    }
  }
  // bibliography labels must be the author-year form of the citations, not a key such as [UniversityoTCSC413cstaff22]
  for (const el of column.querySelectorAll('div.citation span.label, dl.citation > dt, .citation-list .label')) {
    const label = el.textContent.replace(/[\[\]\s]/g, '');
    if (/^[A-Za-z][A-Za-z0-9]{7,}\d{2}[a-z]?$/.test(label)) out.push({kind: 'bibliography label is a key', element: name(el), detail: el.textContent.trim().slice(0, 60)});
  }
  return out;
}
