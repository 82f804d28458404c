import { MAX_SEED } from '../random.js';

/**
 * GET / — the playground: one page with its CSS and JS served beside it (/playground.css, /playground.js; no build step, and a CSP that allows no inline code) over the
 * public API, so it works wherever the API runs (the edge, `cvae serve`). It lists the models
 * from /v1/models, sends /v1/images/generations, shows the images, the seed of each, how the
 * prompt was read, a curl line for the same request, and links to download the model's files.
 */
export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cvae-edge playground</title>
<link rel="stylesheet" href="/playground.css">
</head>
<body>
<header>
  <h1>cvae-edge playground</h1>
  <p class="lead">Text to image with conditional VAEs. Short prompts name a Fashion-MNIST item ("Make a dress"); long-text models read whole captions.</p>
</header>
<main>
  <form id="form" aria-describedby="status">
    <div class="field wide"><label for="prompt">Prompt</label>
      <input id="prompt" name="prompt" required maxlength="1000" value="Make a dress" autocomplete="off"></div>
    <div class="field half"><label for="model">Model</label>
      <select id="model" name="model"></select></div>
    <div class="field"><label for="n">Images</label>
      <input id="n" name="n" type="number" min="1" max="16" value="4"></div>
    <div class="field"><label for="size">Size (px)</label>
      <input id="size" name="size" type="number" readonly></div>
    <div class="field"><label for="seed">Seed</label>
      <span class="seed"><input id="seed" name="seed" type="number" min="0" max="${MAX_SEED}" value="1">
      <button type="button" id="reroll" title="New random seed" aria-label="Re-roll seed">Re-roll</button></span></div>
    <p class="model-info wide" id="model-info" aria-live="polite"></p>
    <div class="wide"><button class="primary" id="generate" type="submit">Generate</button></div>
  </form>
  <div id="status" role="status" aria-live="polite"></div>
  <div id="error" role="alert" hidden></div>
  <div class="reading" id="reading" hidden></div>
  <div id="images" role="list" aria-label="Generated pictures"></div>
  <section id="latent-section" aria-labelledby="latent-title">
    <h2 id="latent-title" class="small">Variations and walks</h2>
    <form id="variations-form" class="jobs">
      <div class="field wide"><label for="picture">Picture (PNG or JPEG)</label>
        <input id="picture" type="file" accept="image/png,image/jpeg"></div>
      <div class="field"><label for="strength">Strength</label>
        <input id="strength" type="range" min="0" max="1" step="0.05" value="0.5"></div>
      <div class="wide"><button type="submit" id="vary">Make variations</button></div>
    </form>
    <form id="walk-form" class="jobs">
      <div class="field"><label for="walk-to">Walk to</label>
        <input id="walk-to" maxlength="1000" value="Make a bag" autocomplete="off"></div>
      <div class="field"><label for="walk-steps">Frames</label>
        <input id="walk-steps" type="number" min="2" max="32" value="8"></div>
      <div class="wide"><button type="submit" id="walk">Walk from the prompt</button></div>
    </form>
    <div id="walk-view" hidden>
      <img id="walk-frame" alt="Frame of the walk">
      <label for="walk-slider">Position on the walk</label>
      <input id="walk-slider" type="range" min="0" value="0" step="1">
      <div id="walk-strip" role="list" aria-label="The walk, frame by frame"></div>
    </div>
  </section>
  <section id="curl-section" hidden>
    <h2 class="small">The same request with curl</h2>
    <pre id="curl"></pre>
  </section>
  <section id="jobs-section" aria-labelledby="jobs-title">
    <h2 id="jobs-title" class="small">Training jobs</h2>
    <form id="jobs-form" class="jobs">
      <div class="field wide"><label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" placeholder="cvae_…"></div>
      <div class="field half"><label for="job-arch">Architecture</label>
        <select id="job-arch"><option>fashion-conv</option><option>fashion-fc</option></select></div>
      <div class="field"><label for="job-epochs">Epochs</label><input id="job-epochs" type="number" min="1" max="200" value="2"></div>
      <div class="field"><label for="job-subset">Training images</label><input id="job-subset" type="number" min="64" value="5000"></div>
      <div class="field"><label for="job-model">Model id</label><input id="job-model" value="my-fashion"></div>
      <div class="wide"><button type="button" id="jobs-refresh">Show my jobs</button>
        <button type="submit" class="primary" id="job-start">Start a job</button></div>
    </form>
    <div id="jobs-error" role="alert" hidden></div>
    <table id="jobs" hidden><thead><tr><th>Job</th><th>Status</th><th>Progress</th><th>Model</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="files-section" hidden>
    <h2 class="small">Download the model</h2>
    <ul id="files"></ul>
  </section>
</main>
<script type="module" src="/playground.js"></script>
</body>
</html>
`;

export const PLAYGROUND_CSS = `
  #walk-view img { image-rendering: pixelated; }
  #walk-frame { width: 168px; height: 168px; display: block; margin: .6rem 0; }
  #walk-strip img { width: 42px; height: 42px; margin-right: 2px; cursor: pointer; }
  #walk-slider { width: 100%; }
  :root { color-scheme: light dark; --accent: #2f6feb; --muted: #6b7280; --bg2: rgba(127,127,127,.08); }
  * { box-sizing: border-box; }
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 1.2rem; }
  h1 { font-size: 1.35rem; margin: 0 0 .2rem; }
  p.lead { margin: 0 0 1rem; color: var(--muted); }
  form { display: grid; grid-template-columns: repeat(6, 1fr); gap: .7rem; align-items: end; background: var(--bg2); padding: 1rem; border-radius: 10px; }
  .field { display: flex; flex-direction: column; gap: .25rem; }
  label { font-weight: 600; font-size: .85rem; }
  .wide { grid-column: span 6; }
  .half { grid-column: span 3; }
  input, select, button { font: inherit; padding: .45rem .55rem; border-radius: 6px; border: 1px solid rgba(127,127,127,.5); }
  button { cursor: pointer; }
  button.primary { background: var(--accent); color: #fff; border-color: var(--accent); font-weight: 600; }
  button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid var(--accent); outline-offset: 1px; }
  .seed { display: flex; gap: .3rem; }
  .seed input { flex: 1; min-width: 0; }
  #status { min-height: 1.5rem; margin: .8rem 0; }
  #error { color: #b42318; background: rgba(180,35,24,.08); border: 1px solid rgba(180,35,24,.3); padding: .6rem .8rem; border-radius: 8px; }
  #images { display: flex; flex-wrap: wrap; gap: .8rem; }
  figure { margin: 0; text-align: center; }
  figure img { width: 140px; height: 140px; image-rendering: pixelated; background: #000; border-radius: 4px; }
  figcaption { font-size: .8rem; color: var(--muted); }
  .reading { margin: .8rem 0; }
  code, pre { font: 13px ui-monospace, monospace; background: var(--bg2); border-radius: 6px; }
  pre { padding: .6rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
  section { margin-top: 1.4rem; }
  .model-info { color: var(--muted); font-size: .85rem; }
  [hidden] { display: none !important; }
  form.jobs { margin-top: .5rem; }
  #jobs-error { color: #b42318; margin: .5rem 0; }
  table { border-collapse: collapse; width: 100%; margin-top: .6rem; font-size: .9rem; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid rgba(127,127,127,.3); }
  progress { width: 8rem; }
  h2.small { font-size: 1rem; }
`;

export const PLAYGROUND_JS = `
const $ = (id) => document.getElementById(id);
const models = new Map();
const fmt = (x, d = 3) => (typeof x === 'number' ? x.toFixed(d) : '–');

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

async function loadModels() {
  try {
    const res = await fetch('/v1/models');
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? 'cannot list models');
    const select = $('model');
    for (const m of body.data.filter((m) => m.task !== 'text-encoder' && m.image)) {
      models.set(m.id, m);
      const option = document.createElement('option');
      option.value = m.id;
      option.textContent = m.id + ' (' + m.task + ', ' + m.image.width + 'px' + (m.serving === 'gpu' ? ', GPU' : '') + ')';
      select.append(option);
    }
    if (models.has('fashion-conv')) select.value = 'fashion-conv';
    await selectModel();
  } catch (error) {
    showError('Could not load the model list: ' + error.message);
  }
}

async function selectModel() {
  const m = models.get($('model').value);
  if (!m) return;
  $('size').value = m.image.width;
  const metrics = m.metrics ? 'test MSE ' + fmt(m.metrics.mse, 2) + ', SSIM ' + fmt(m.metrics.ssim) + (m.metrics.fid !== undefined ? ', FID ' + fmt(m.metrics.fid, 1) + ' (' + m.metrics.fidExtractor + ')' : '') : 'no metrics recorded';
  $('model-info').textContent = (m.description ?? '') + ' — version ' + m.latest + '; ' + metrics + '.';
  $('prompt').placeholder = m.task === 'short-text' ? 'Make a dress' : 'A red circle at the top left. A blue square below it.';
  const res = await fetch('/v1/models/' + encodeURIComponent(m.id));
  const detail = await res.json();
  const list = $('files');
  list.replaceChildren();
  for (const f of detail.manifest.files) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = '/v1/models/' + m.id + '/versions/' + detail.manifest.version + '/files/' + f.name;
    a.textContent = f.name;
    a.setAttribute('download', '');
    li.append(a, ' — ' + (f.bytes / 1048576).toFixed(2) + ' MiB, sha256 ' + f.sha256.slice(0, 12) + '…');
    list.append(li);
  }
  $('files-section').hidden = false;
}

async function generate(event) {
  event.preventDefault();
  showError('');
  const request = {
    prompt: $('prompt').value,
    model: $('model').value || undefined,
    n: Number($('n').value),
    seed: Number($('seed').value),
  };
  $('generate').disabled = true;
  $('status').textContent = 'Generating…';
  const started = performance.now();
  try {
    const res = await fetch('/v1/images/generations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    const body = await res.json();
    if (!res.ok) {
      $('status').textContent = '';
      showError(body.error ? body.error.message + ' (' + body.error.code + ')' : 'HTTP ' + res.status);
      return;
    }
    const grid = $('images');
    grid.replaceChildren();
    for (const [i, d] of body.data.entries()) {
      const figure = document.createElement('figure');
      const img = document.createElement('img');
      img.src = 'data:image/png;base64,' + d.b64_json;
      img.alt = 'Image ' + (i + 1) + ' for "' + request.prompt + '", seed ' + d.seed;
      const caption = document.createElement('figcaption');
      caption.textContent = 'seed ' + d.seed;
      figure.append(img, caption);
      grid.append(figure);
    }
    const c = body.condition;
    $('reading').hidden = false;
    $('reading').textContent = c.type === 'class'
      ? 'Read as class "' + c.className + '" (matched "' + c.matched + '").'
      : 'Read as ' + c.sentences.length + ' sentence(s), embedded and averaged: ' + c.sentences.map((s) => '"' + s + '"').join(' ');
    $('status').textContent = body.data.length + ' image(s) from ' + body.model.id + '@' + body.model.version + ' in ' + Math.round(performance.now() - started) + ' ms.';
    $('curl').textContent = "curl -s " + location.origin + "/v1/images/generations -H 'content-type: application/json' -d '" + JSON.stringify(request).replaceAll("'", "'\\\\''") + "'";
    $('curl-section').hidden = false;
  } catch (error) {
    $('status').textContent = '';
    showError('The request failed: ' + error.message);
  } finally {
    $('generate').disabled = false;
  }
}

function showImages(data, alt) {
  const grid = $('images');
  grid.replaceChildren();
  for (const [i, d] of data.entries()) {
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.src = 'data:image/png;base64,' + d.b64_json;
    img.alt = alt + ' ' + (i + 1) + ', seed ' + d.seed;
    const caption = document.createElement('figcaption');
    caption.textContent = 'seed ' + d.seed;
    figure.append(img, caption);
    grid.append(figure);
  }
}

// Variations: the picture goes up as multipart, with the model, the prompt (if any) and the strength.
async function vary(event) {
  event.preventDefault();
  showError('');
  const file = $('picture').files[0];
  if (!file) return showError('Choose a picture first.');
  const form = new FormData();
  form.set('image', file);
  form.set('model', $('model').value);
  form.set('n', $('n').value);
  form.set('seed', $('seed').value);
  form.set('strength', $('strength').value);
  const m = models.get($('model').value);
  if (m && m.task === 'long-text' && $('prompt').value) form.set('prompt', $('prompt').value);
  $('status').textContent = 'Encoding the picture…';
  const res = await fetch('/v1/images/variations', { method: 'POST', body: form });
  const body = await res.json();
  if (!res.ok) {
    $('status').textContent = '';
    return showError(body.error.message + ' (' + body.error.code + ')');
  }
  showImages(body.data, 'Variation');
  const c = body.condition;
  $('reading').hidden = false;
  $('reading').textContent = c.type === 'class'
    ? (c.inferred ? 'The model reads the picture as "' : 'Conditioned on "') + c.className + '".'
    : 'Conditioned on the prompt.';
  $('status').textContent = body.data.length + ' variation(s) at strength ' + $('strength').value + '.';
}

// A walk from the prompt to another: the frames, and a slider over them.
let frames = [];
function showFrame(k) {
  $('walk-frame').src = 'data:image/png;base64,' + frames[k].b64_json;
  $('walk-frame').alt = 'Frame ' + (k + 1) + ' of ' + frames.length + ' (t = ' + frames[k].t.toFixed(2) + ')';
}
async function walk(event) {
  event.preventDefault();
  showError('');
  const form = new FormData();
  form.set('from', $('prompt').value);
  form.set('to', $('walk-to').value);
  form.set('model', $('model').value);
  form.set('steps', $('walk-steps').value);
  form.set('seed', $('seed').value);
  const res = await fetch('/v1/images/interpolations', { method: 'POST', body: form });
  const body = await res.json();
  if (!res.ok) return showError(body.error.message + ' (' + body.error.code + ')');
  frames = body.data;
  const strip = $('walk-strip');
  strip.replaceChildren(...frames.map((f, k) => {
    const img = document.createElement('img');
    img.src = 'data:image/png;base64,' + f.b64_json;
    img.alt = 'Frame ' + (k + 1);
    img.addEventListener('click', () => { $('walk-slider').value = k; showFrame(k); });
    return img;
  }));
  $('walk-slider').max = frames.length - 1;
  $('walk-slider').value = 0;
  showFrame(0);
  $('walk-view').hidden = false;
}

$('variations-form').addEventListener('submit', vary);
$('walk-form').addEventListener('submit', walk);
$('walk-slider').addEventListener('input', () => showFrame(Number($('walk-slider').value)));
$('form').addEventListener('submit', generate);
$('model').addEventListener('change', selectModel);
$('reroll').addEventListener('click', () => {
  $('seed').value = crypto.getRandomValues(new Uint32Array(1))[0];
  $('seed').focus();
});

// Training jobs: the key stays in this tab (sessionStorage); progress comes from the events
// stream, read with fetch because EventSource cannot send an Authorization header.
const streams = new Map();
const keyHeaders = () => ({ authorization: 'Bearer ' + $('api-key').value.trim(), 'content-type': 'application/json' });
$('api-key').value = sessionStorage.getItem('cvae-key') ?? '';

function jobError(message) {
  $('jobs-error').textContent = message;
  $('jobs-error').hidden = !message;
}

function renderJob(job) {
  let row = document.getElementById('job-' + job.id);
  if (!row) {
    row = document.createElement('tr');
    row.id = 'job-' + job.id;
    row.innerHTML = '<td><code></code></td><td class="status"></td><td><progress max="1" value="0"></progress> <span class="pct"></span></td><td class="model"></td>';
    row.querySelector('code').textContent = job.id;
    $('jobs').querySelector('tbody').prepend(row);
  }
  row.querySelector('.status').textContent = job.status + (job.cancelRequested && job.status === 'running' ? ' (cancelling)' : '');
  const p = job.progress;
  const fraction = job.status === 'succeeded' ? 1 : p ? (p.epoch + (p.total ? (p.seen ?? 0) / p.total : 0)) / p.epochs : 0;
  row.querySelector('progress').value = Math.min(1, fraction);
  row.querySelector('.pct').textContent = Math.round(fraction * 100) + '%' + (p && p.loss ? ', loss ' + p.loss.toFixed(1) : '');
  row.querySelector('.model').textContent = job.model ? job.model.id + '@' + job.model.version : job.error ?? '';
  $('jobs').hidden = false;
  if (!['succeeded', 'failed', 'cancelled'].includes(job.status) && !streams.has(job.id)) follow(job);
}

async function follow(job) {
  const controller = new AbortController();
  streams.set(job.id, controller);
  try {
    const res = await fetch('/v1/training-jobs/' + job.id + '/events', { headers: keyHeaders(), signal: controller.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\\n\\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}');
        if (type === 'progress') renderJob({ ...job, status: 'running', progress: data });
        else if (type) {
          const fresh = await (await fetch('/v1/training-jobs/' + job.id, { headers: keyHeaders() })).json();
          job = fresh;
          renderJob(fresh);
        }
      }
    }
  } catch {}
  streams.delete(job.id);
}

async function refreshJobs() {
  jobError('');
  sessionStorage.setItem('cvae-key', $('api-key').value.trim());
  const res = await fetch('/v1/training-jobs', { headers: keyHeaders() });
  const body = await res.json();
  if (!res.ok) return jobError(body.error ? body.error.message + ' (' + body.error.code + ')' : 'HTTP ' + res.status);
  for (const job of body.data.reverse()) renderJob(job);
  if (body.data.length === 0) jobError('No jobs yet for this key.');
}

$('jobs-refresh').addEventListener('click', refreshJobs);
$('jobs-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  jobError('');
  sessionStorage.setItem('cvae-key', $('api-key').value.trim());
  const config = {
    architecture: $('job-arch').value,
    epochs: Number($('job-epochs').value),
    dataset: { name: 'fashion-mnist', subset: Number($('job-subset').value) },
    modelId: $('job-model').value || undefined,
  };
  const res = await fetch('/v1/training-jobs', {
    method: 'POST',
    headers: { ...keyHeaders(), 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify(config),
  });
  const body = await res.json();
  if (!res.ok) return jobError(body.error ? body.error.message + ' (' + body.error.code + ')' : 'HTTP ' + res.status);
  renderJob(body);
});
loadModels();
`;

/** Only the page's own files and API; no inline code, no framing, no plugins. */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
