// Runs in each page of the browser check (scripts/browser_check.py): every defect as {kind, element, detail}.
() => {
  const out = [];
  const main = document.querySelector('main') || document.body;
  const column = main.querySelector('article') || main;
  const limit = column.getBoundingClientRect().right + 1;
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
    if (r.right > limit && !insideScroller(el)) out.push({kind: 'wider than the column', element: name(el), detail: `${Math.round(r.width)} px, right edge ${Math.round(r.right)} > ${Math.round(limit)}`});
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
  return out;
}
