/**
 * The status page's markup and style. Both are constant: no value from the data is ever
 * written into them (the script fills the page in with textContent), so there is nothing here
 * to escape. Links are relative, so the page also works behind a proxy that mounts it under a
 * prefix.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>streamrec status</title>
<link rel="stylesheet" href="status/uplot.css">
<link rel="stylesheet" href="status/page.css">
<script src="status/uplot.js" defer></script>
<script src="status/page.js" defer></script>
</head>
<body>
<header>
  <h1>streamrec</h1>
  <span class="meta">instance <b id="instance">–</b></span>
  <span class="meta">serving <b id="version">–</b></span>
  <span class="meta" id="sampled">loading…</span>
  <span id="state" data-state="stale">connecting…</span>
</header>
<p id="sample-error" role="alert"></p>
<section class="tiles" aria-label="current figures">
  <div class="tile quality"><div class="label">Online Recall@20</div><div class="value" id="recall20">–</div><div class="sub" id="targets"></div></div>
  <div class="tile quality"><div class="label">Online MRR@20</div><div class="value" id="mrr20">–</div><div class="sub">since start, every version</div></div>
  <div class="tile"><div class="label">Events in / s</div><div class="value" id="events-in">–</div><div class="sub">out / s <span id="events-out">–</span></div></div>
  <div class="tile"><div class="label">Latency p50</div><div class="value" id="latency-p50">–</div><div class="sub">click appended → recommendation</div></div>
  <div class="tile"><div class="label">Latency p99</div><div class="value" id="latency-p99">–</div><div class="sub">over the last interval</div></div>
  <div class="tile"><div class="label">Consumer lag</div><div class="value" id="lag">–</div><div class="sub">records behind, all partitions</div></div>
</section>
<section>
  <h2>Online Recall@20 (solid) and MRR@20 (dashed) by model version</h2>
  <div id="quality-chart" class="chart"></div>
</section>
<section>
  <h2>Throughput and latency</h2>
  <div id="flow-chart" class="chart"></div>
</section>
<section>
  <h2>Model versions</h2>
  <table id="versions">
    <thead><tr><th>version</th><th>first seen</th><th>swap pause</th><th>targets</th><th>Recall@20</th><th>MRR@20</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
</body>
</html>
`;

export const STATUS_PAGE_CSS = `
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0 24px 24px; color: #1b1f24; background: #fff; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 18px; padding: 14px 0 8px; border-bottom: 1px solid #d8dde3; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 15px; font-weight: 600; margin: 22px 0 8px; }
.meta { color: #57606a; }
.meta b { color: #1b1f24; font-weight: 600; }
#state { margin-left: auto; padding: 2px 10px; border-radius: 10px; font-size: 12px; }
#state[data-state="live"] { background: #dafbe1; color: #116329; }
#state[data-state="stale"] { background: #fff1e5; color: #953800; }
#sample-error { color: #953800; margin: 6px 0 0; min-height: 0; }
#sample-error:empty { display: none; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; margin-top: 16px; }
.tile { border: 1px solid #d8dde3; border-radius: 6px; padding: 10px 14px; }
.tile.quality { border-color: #8cb4d9; background: #f5f9fd; }
.label { color: #57606a; font-size: 12px; text-transform: uppercase; letter-spacing: 0.03em; }
.value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; margin: 2px 0; }
.sub { color: #57606a; font-size: 12px; }
.chart { width: 100%; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 14px; border-bottom: 1px solid #eaeef2; }
th:first-child, td:first-child { text-align: left; }
th { color: #57606a; font-weight: 600; }
tr.serving td { font-weight: 600; background: #f5f9fd; }
tr.serving td:first-child::after { content: " serving"; font-weight: 400; color: #116329; font-size: 12px; }
`;
