"""The chat's stylesheet and its one script (clicks on [n] markers, cited pages), as Gradio takes them."""

# Clicks on [n] markers (in answers and source cards) open that passage: the marker's href
# names the answer and the citation, and a hidden textbox carries it to the server. Gradio's
# sanitizer drops data- attributes from chat messages, hence the href. Once the server has
# opened the card, it is scrolled into view where it is not: on a phone the sources sit far
# below the chat.
HEAD = """<script>
function revealSource(id, tries) {
  var card = document.getElementById(id);
  if (!card || !card.classList.contains('open')) {
    if (tries < 200) setTimeout(function () { revealSource(id, tries + 1); }, 50);
    return;
  }
  var r = card.getBoundingClientRect(), h = window.innerHeight;
  if (r.top >= 0 && r.bottom <= h) return;
  card.scrollIntoView({behavior: 'smooth', block: r.height > h ? 'start' : 'nearest'});
}
// A cited PDF page (ui_render.card_html) is scrolled to its first mark once drawn: the JSON of
// the same URL says where that is (the server has the page cached by then). Load and error
// events do not bubble: caught on the way down. A click on the page zooms it.
document.addEventListener('load', function (e) {
  var img = e.target;
  if (!img.classList || !img.classList.contains('page-image')) return;
  fetch(img.getAttribute('src') + '&format=json', {credentials: 'same-origin'})
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (d) {
      if (!d || d.first_mark_top === null) return;
      var view = img.closest('.page-view');
      view.scrollTop = Math.max(0, d.first_mark_top * img.clientHeight - view.clientHeight / 4);
      view.classList.add('at-mark');
    }).catch(function () {});
}, true);
document.addEventListener('error', function (e) {
  var img = e.target;
  if (!img.classList || !img.classList.contains('page-image')) return;
  var view = img.closest('.page-view');
  view.classList.add('failed');
  view.textContent = 'The page could not be drawn: its passage is below, and the whole file is linked above.';
}, true);
document.addEventListener('click', function (e) {
  var img = e.target.closest ? e.target.closest('img.page-image') : null;
  if (!img) return;
  var view = img.closest('.page-view'), top = view.scrollTop / view.scrollHeight;
  view.classList.toggle('zoomed');
  view.scrollTop = top * view.scrollHeight;
});
document.addEventListener('click', function (e) {
  var a = e.target.closest ? e.target.closest('a.cite') : null;
  if (!a) return;
  var m = (a.getAttribute('href') || '').match(/^#cite-(\\d+)-(\\d+)$/);
  if (!m) return;
  e.preventDefault(); e.stopPropagation();
  var box = document.querySelector('#open-citation textarea, #open-citation input');
  if (!box) return;
  box.value = m[1] + ':' + m[2] + ':' + Date.now();
  box.dispatchEvent(new Event('input', {bubbles: true}));
  revealSource('source-' + m[1] + '-' + m[2], 0);
}, true);
</script>"""

CSS = """
#chat .answer, #chat .answer-error { line-height: 1.55; }
a.cite { display: inline-block; margin: 0 1px; padding: 0 5px; border-radius: 8px; font-size: .8em;
  font-weight: 600; text-decoration: none; vertical-align: super; line-height: 1.3;
  background: #dbeafe; color: #1e40af !important; cursor: pointer; }
a.cite:hover { background: #1e40af; color: #fff !important; }
.cite-missing { color: #b91c1c; font-size: .8em; vertical-align: super; }
.cite-date { color: #6b7280; font-size: .85em; white-space: nowrap; }
.unsupported { text-decoration: underline wavy #dc2626; background: #fef2f2; }
.answer-notes { margin-top: 6px; font-size: .8em; color: #6b7280; }
.answer-notes .flag { color: #b91c1c; font-weight: 600; }
.answer.refused { font-style: italic; color: #6b7280; }
.answer-error { color: #b91c1c; }
.typing { animation: blink 1s step-end infinite; } @keyframes blink { 50% { opacity: 0; } }
#sources .sources-head { margin: 0 0 8px; font-size: .9em; color: #4b5563; }
#sources .sources-empty { color: #6b7280; }
#sources .sources { text-align: left; }
#sources .source { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 10px; margin-bottom: 8px;
  scroll-margin: 8px; }
#sources .source.open { border-color: #3b82f6; box-shadow: 0 0 0 2px #bfdbfe; }
#sources a.source-title { display: block; text-align: left; font-size: .95em; line-height: 1.35;
  vertical-align: baseline; background: none; color: #111827 !important; padding: 0; font-weight: 500; }
#sources a.source-title:hover { background: none; text-decoration: underline; color: #1e40af !important; }
#sources .source-meta { font-size: .8em; color: #6b7280; margin-top: 2px; }
#sources .source-snippet { font-size: .85em; color: #374151; margin-top: 4px; }
#sources .source-link { font-size: .8em; margin-top: 4px; word-break: break-all; }
#sources .source-link a { padding: 0; margin: 0; }
#sources .support-note { font-size: .8em; color: #92400e; margin-top: 6px; }
#sources blockquote.passage { margin: 6px 0 0; padding: 8px 10px; font-size: .88em; line-height: 1.5;
  border-left: 3px solid #3b82f6; background: #f9fafb; max-height: 420px; overflow-y: auto;
  overflow-wrap: anywhere; }
#sources blockquote.passage.plain { white-space: pre-wrap; }
/* A passage's Markdown, at the size of its text: its headings are a document's, not the page's. */
#sources .passage.md > :first-child { margin-top: 0; } #sources .passage.md > :last-child { margin-bottom: 0; }
#sources .passage.md p, #sources .passage.md ul, #sources .passage.md ol, #sources .passage.md pre,
#sources .passage.md table, #sources .passage.md blockquote { margin: 0 0 .6em; }
#sources .passage.md h1, #sources .passage.md h2, #sources .passage.md h3, #sources .passage.md h4,
#sources .passage.md h5, #sources .passage.md h6 { font-size: 1.05em; font-weight: 600; margin: .2em 0 .5em; }
#sources .passage.md ul, #sources .passage.md ol { padding-left: 1.4em; }
#sources .passage.md ul { list-style: disc; } #sources .passage.md ol { list-style: decimal; }
#sources .passage.md blockquote { border-left: 2px solid #d1d5db; padding-left: 8px; color: #4b5563; }
#sources .passage.md code { font-size: .95em; } #sources .passage.md pre { white-space: pre-wrap; }
#sources .passage.md td, #sources .passage.md th { border: 1px solid #e5e7eb; padding: 2px 6px; }
#sources .passage .md-image { color: #6b7280; }
@media (max-width: 640px) { #sources blockquote.passage { max-height: 55vh; } #title h2 { font-size: 1.25em; } }
/* A cited PDF page, drawn by the server with its evidence marked, scrolled to the mark. */
#sources .page-line { font-size: .8em; color: #4b5563; margin-top: 4px; overflow-wrap: anywhere; }
#sources .page-line a { padding: 0; margin: 0; }
#sources .page-view { margin-top: 6px; max-height: 460px; overflow: auto; border: 1px solid #d1d5db;
  background: #f3f4f6; }
#sources .page-view img.page-image { display: block; width: 100%; height: auto; cursor: zoom-in; }
#sources .page-view.zoomed img.page-image { width: 200%; max-width: none; cursor: zoom-out; }
#sources .page-view.failed { padding: 8px 10px; font-size: .85em; color: #92400e; background: #fffbeb; }
#sources blockquote.passage.under-page { max-height: 160px; }
@media (max-width: 640px) { #sources .page-view { max-height: 60vh; } }
mark.support { background: #fde68a; padding: 0 1px; }
.archive-status { font-size: .85em; color: #4b5563; }
.signed-in { font-size: .85em; color: #4b5563; display: flex; gap: .6em; align-items: center;
  justify-content: flex-end; }
.signed-in button { font-size: .9em; padding: .15em .7em; border: 1px solid #d1d5db; border-radius: 6px;
  background: #f9fafb; cursor: pointer; }
table.ingest { font-size: .8em; } table.ingest td { padding: 2px 6px; }
.archive-files { font-size: .8em; max-height: 360px; overflow-y: auto; }
.archive-files table { width: 100%; }
.archive-files td, .archive-files th { padding: 2px 6px; white-space: nowrap; vertical-align: top; }
.archive-files td:first-child { white-space: normal; overflow-wrap: anywhere; width: 70%; }
.archive-files .file-meta { color: #6b7280; }
.st-failed td, .st-refused td, .st-skipped td { color: #b91c1c; }
/* Readers have one tab, the chat: no tab bar for it. */
#tabs > .tab-wrapper:not(:has([role=tablist] button[role=tab] ~ button[role=tab])) { display: none; }
.share-link { font-size: .85em; overflow-wrap: anywhere; }
#conversation-list { max-height: 50vh; overflow-y: auto; }
"""

