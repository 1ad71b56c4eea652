/**
 * The status page's script, sent to the browser as it is (plain ES2020, no build step: the page
 * must work offline from the process alone). It polls status.json every second and redraws
 * with uPlot, loaded before it from status/uplot.js.
 *
 * Everything from the data reaches the DOM through textContent (uPlot's legend does the same),
 * never as markup, and the page's Content-Security-Policy allows only these same-origin
 * scripts, so a hostile version or instance id renders as text and cannot run.
 */

/** Digits the page shows for Recall@20 and MRR@20 (tests format the expected value the same way). */
export const QUALITY_DIGITS = 4;

export function formatQuality(x: number): string {
  return x.toFixed(QUALITY_DIGITS);
}

/** Series colours, one per model version (Recall@20 solid, MRR@20 dashed in the same colour). */
export const VERSION_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'] as const;

export const STATUS_PAGE_SCRIPT = `(() => {
  'use strict';
  const DIGITS = ${QUALITY_DIGITS};
  const POLL_MS = 1000;
  const COLORS = ${JSON.stringify(VERSION_COLORS)};
  const QUALITY_HEIGHT = 300;
  const FLOW_HEIGHT = 220;

  const byId = (id) => document.getElementById(id);
  const setText = (id, value) => { byId(id).textContent = value; };
  const finite = (x) => typeof x === 'number' && Number.isFinite(x);
  const fixed = (x, d) => (finite(x) ? x.toFixed(d) : '\\u2013');
  const whole = (x) => (finite(x) ? Math.round(x).toLocaleString('en-US') : '\\u2013');
  const ms = (x) => (finite(x) ? x.toFixed(x < 10 ? 2 : 1) + ' ms' : '\\u2013');
  const clock = (epochMs) => new Date(epochMs).toLocaleTimeString('en-GB');
  const widthOf = (el) => Math.max(320, el.clientWidth);
  // Whole-second ticks labelled with the wall clock: samples are a second apart, so finer ticks say nothing.
  const timeAxis = () => ({ space: 80, incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600], values: (u, ticks) => ticks.map((t) => clock(t * 1000)) });

  // The number of points the last draw plotted, in the DOM: tests wait on it, people can ignore it.
  function markDrawn(el) {
    return (u) => {
      let n = 0;
      for (let s = 1; s < u.data.length; s++) for (const y of u.data[s]) if (y !== null && y !== undefined) n++;
      el.dataset.drawnPoints = String(n);
    };
  }

  const charts = { quality: null, qualityKey: null, flow: null };

  function drawQuality(series) {
    const el = byId('quality-chart');
    const data = [series.t];
    for (const v of series.byVersion) data.push(v.recall20, v.mrr20);
    // A new version is a new pair of series: uPlot's series are fixed at creation, so rebuild.
    const key = JSON.stringify(series.byVersion.map((v) => v.version));
    if (charts.quality && charts.qualityKey === key) {
      charts.quality.setData(data);
      return;
    }
    if (charts.quality) charts.quality.destroy();
    const lines = [{}];
    series.byVersion.forEach((v, i) => {
      const stroke = COLORS[i % COLORS.length];
      const value = (u, y) => fixed(y, DIGITS);
      lines.push({ label: v.version + ' Recall@20', stroke, width: 2, value });
      lines.push({ label: v.version + ' MRR@20', stroke, width: 2, dash: [8, 5], value });
    });
    charts.quality = new uPlot(
      {
        width: widthOf(el),
        height: QUALITY_HEIGHT,
        series: lines,
        scales: { x: { time: true }, y: { range: (u, min, max) => [Math.max(0, Math.floor((min - 0.02) * 20) / 20), Math.min(1, Math.ceil((max + 0.02) * 20) / 20)] } },
        axes: [timeAxis(), { label: 'online @20 (cumulative per version)', values: (u, ticks) => ticks.map((t) => t.toFixed(2)), size: 60 }],
        hooks: { draw: [markDrawn(el)] },
      },
      data,
      el,
    );
    charts.qualityKey = key;
  }

  function drawFlow(series) {
    const el = byId('flow-chart');
    const data = [series.t, series.eventsInPerSec, series.eventsOutPerSec, series.latencyP50Ms, series.latencyP99Ms];
    if (charts.flow) {
      charts.flow.setData(data);
      return;
    }
    charts.flow = new uPlot(
      {
        width: widthOf(el),
        height: FLOW_HEIGHT,
        series: [
          {},
          { label: 'events in/s', scale: 'rate', stroke: '#444', width: 2, value: (u, y) => whole(y) },
          { label: 'recommendations out/s', scale: 'rate', stroke: '#999', width: 1, dash: [4, 4], value: (u, y) => whole(y) },
          { label: 'latency p50', scale: 'ms', stroke: '#2ca02c', width: 2, value: (u, y) => ms(y) },
          { label: 'latency p99', scale: 'ms', stroke: '#ff7f0e', width: 2, value: (u, y) => ms(y) },
        ],
        scales: { x: { time: true }, rate: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] }, ms: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [timeAxis(), { scale: 'rate', label: 'events/s', size: 60 }, { scale: 'ms', side: 1, label: 'latency (ms)', grid: { show: false }, size: 60 }],
        hooks: { draw: [markDrawn(el)] },
      },
      data,
      el,
    );
  }

  function drawVersions(rows, current) {
    const body = byId('versions').tBodies[0];
    const trs = rows.map((r) => {
      const tr = document.createElement('tr');
      if (r.version === current) tr.className = 'serving';
      const cells = [
        r.version,
        clock(r.firstSeen),
        r.swapPauseMs === null ? '\\u2013' : ms(r.swapPauseMs),
        whole(r.targets),
        r.recall20 === null ? '\\u2013' : fixed(r.recall20, DIGITS),
        r.mrr20 === null ? '\\u2013' : fixed(r.mrr20, DIGITS),
      ];
      for (const c of cells) tr.appendChild(document.createElement('td')).textContent = c;
      return tr;
    });
    body.replaceChildren(...trs);
  }

  function render(s) {
    document.title = 'streamrec status \\u2013 ' + s.instanceId;
    setText('instance', s.instanceId);
    const c = s.current;
    setText('version', c && c.version !== null ? c.version : '\\u2013');
    setText('recall20', c ? fixed(c.recall20, DIGITS) : '\\u2013');
    setText('mrr20', c ? fixed(c.mrr20, DIGITS) : '\\u2013');
    setText('targets', c ? whole(c.targets) + ' targets' : '');
    setText('events-in', c ? whole(c.eventsInPerSec) : '\\u2013');
    setText('events-out', c ? whole(c.eventsOutPerSec) : '\\u2013');
    setText('latency-p50', c ? ms(c.latencyP50Ms) : '\\u2013');
    setText('latency-p99', c ? ms(c.latencyP99Ms) : '\\u2013');
    setText('lag', c ? whole(c.lag) : '\\u2013');
    setText('sampled', c ? 'sampled ' + clock(c.at) + ', every ' + s.intervalMs / 1000 + ' s' : 'no sample yet');
    setText('sample-error', s.error === null ? '' : 'last sample failed: ' + s.error);
    drawQuality(s.series);
    drawFlow(s.series);
    drawVersions(s.versions, c ? c.version : null);
  }

  function setState(live, why) {
    const el = byId('state');
    el.dataset.state = live ? 'live' : 'stale';
    el.textContent = live ? 'live' : 'not updating: ' + why;
  }

  async function poll() {
    try {
      const r = await fetch('status.json', { cache: 'no-store' });
      if (!r.ok) throw new Error('status.json answered ' + r.status);
      render(await r.json());
      setState(true, '');
    } catch (e) {
      setState(false, e instanceof Error ? e.message : String(e));
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  window.addEventListener('resize', () => {
    if (charts.quality) charts.quality.setSize({ width: widthOf(byId('quality-chart')), height: QUALITY_HEIGHT });
    if (charts.flow) charts.flow.setSize({ width: widthOf(byId('flow-chart')), height: FLOW_HEIGHT });
  });
  poll();
})();
`;
