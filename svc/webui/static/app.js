// The page: the conversion form, job progress, the result player and the pitch editor's buttons.
"use strict";

const $ = (id) => document.getElementById(id);

// one session per tab (two tabs never share a song or a result); the server issues its id
let SESSION = sessionStorage.getItem("svcSession") || "";
let MAX_UPLOAD_MB = Infinity;

async function openSession() {
  const r = await api("POST", "/api/session", {});
  SESSION = r.session;
  sessionStorage.setItem("svcSession", SESSION);
}

function showMessage(text, ok) {
  const box = $("message");
  box.textContent = text;
  box.className = ok ? "message ok" : "message";
  box.hidden = !text;
}

async function api(method, path, body, raw) {
  // the session goes in a header, never in the URL; uploads carry a header only this page sends
  const headers = SESSION ? { "X-Session": SESSION } : {};
  let payload = body;
  if (body instanceof Blob) {
    headers["X-SVC-Upload"] = "1";
    headers["Content-Type"] = "application/octet-stream";
  } else if (method === "POST") {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body === undefined ? {} : body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload });
  } catch (err) {
    throw new Error("The server does not answer: is svc_webui.py still running?");
  }
  if (!res.ok) {
    let text = `${res.status} ${res.statusText}`;
    try { text = (await res.json()).error || text; } catch (e) { /* not JSON */ }
    if (res.status === 403 && text.includes("not known to the server") && path !== "/api/session") {
      await openSession();  // the server was restarted: a new session, so the next action works
      text += " A new session is open: choose the input again.";
    }
    throw new Error(text);
  }
  return raw ? res : res.json();
}

// a file name from a Content-Disposition header (the UTF-8 form first: any song name survives)
function dispositionName(header) {
  const utf8 = (header || "").match(/filename\*=UTF-8''([^;]+)/i);
  if (utf8) return decodeURIComponent(utf8[1]);
  const plain = (header || "").match(/filename="([^"]+)"/);
  return plain ? plain[1] : null;
}

// run fn (a new action clears the old message); any error becomes the red message, not a console trace
function guarded(fn) {
  return async (...args) => {
    showMessage("");
    try { await fn(...args); } catch (err) { showMessage(err.message || String(err)); busy(false); }
  };
}

function busy(on) {
  for (const id of ["convert", "open-editor", "convert-edited", "upload", "open-path", "evaluate"]) {
    $(id).disabled = on;
  }
}

function fill(select, values, labels) {
  select.innerHTML = "";
  values.forEach((v, i) => {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = labels ? labels[i] : v;
    select.appendChild(o);
  });
}

async function loadOptions() {
  const o = await api("GET", "/api/options");
  for (const [id, files] of [["model-list", o.models], ["singer-list", o.singers]]) {
    fill($(id), [""].concat(files.map((f) => f.path)), ["(choose)"].concat(files.map((f) => f.label)));
    if (files.length === 1) $(id).value = files[0].path;
  }
  fill($("pitch-method"), o.pitch_methods);
  $("pitch-method").value = o.pitch_method;
  fill($("crepe-model"), o.crepe_models);
  fill($("retrieval"), o.retrieval_modes);
  fill($("precision"), o.precisions);
  MAX_UPLOAD_MB = o.max_upload_mb;
  const option = (value) => Object.assign(document.createElement("option"), { value });
  $("audio-files").replaceChildren(...o.audio.map(option));
  $("folders").textContent = `models: ${o.folders.models}; singers: ${o.folders.singers}; audio: ${o.folders.audio}`;
}

function form() {
  return {
    model: $("model-path").value.trim() || $("model-list").value,
    singer: $("singer-path").value.trim() || $("singer-list").value,
    shift: $("shift").value, pitch_method: $("pitch-method").value, crepe_model: $("crepe-model").value,
    retrieval: $("retrieval").value, retrieval_ratio: $("retrieval-ratio").value, retrieval_k: $("retrieval-k").value,
    protect: $("protect").value, loudness_mix: $("loudness-mix").value, fast: $("fast").checked,
    seed: $("seed").value, no_noise: $("no-noise").checked, precision: $("precision").value,
    repair: $("repair").checked, auto_shift: $("auto-shift").checked,
  };
}

function showInput(info) {
  $("input-info").textContent = `Input: ${info.name}, ${info.seconds.toFixed(2)} s`;
  $("result-panel").hidden = true;
  $("editor-panel").hidden = true;
  editor.f0 = null;
  showMessage("");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForJob(start) {
  busy(true);
  $("progress").hidden = false;
  let job = start.job;
  while (job.state === "queued" || job.state === "running") {
    $("progress-bar").style.width = `${Math.round(100 * job.fraction)}%`;
    $("progress-text").textContent = `${job.stage} (${job.seconds.toFixed(0)} s)`;
    await sleep(250);
    job = (await api("GET", "/api/job")).job;
  }
  $("progress-bar").style.width = job.state === "done" ? "100%" : "0";
  $("progress-text").textContent = job.state === "done" ? `done in ${job.seconds.toFixed(1)} s` : "failed";
  busy(false);
  if (job.state === "error") throw new Error(job.error);
  return job;
}

let resultUrl = null;

async function showResult() {
  const r = await api("GET", "/api/result");
  const wav = await (await api("GET", "/api/result.wav", undefined, true)).blob();
  if (resultUrl) URL.revokeObjectURL(resultUrl);
  resultUrl = URL.createObjectURL(wav);
  $("result-audio").src = resultUrl;
  $("download").href = resultUrl;
  $("download").setAttribute("download", r.file_name);
  $("result-info").textContent = `${r.file_name}: ${r.seconds.toFixed(2)} s at ${r.rate} Hz` +
    (r.edited ? ", with the edited pitch" : ", with the extracted pitch") +
    `, shift ${r.shift >= 0 ? "+" : ""}${r.shift} (features extracted: content ${r.extractions.content || 0}x, ` +
    `pitch ${r.extractions.pitch || 0}x)` + r.notes.map((n) => `\n${n}`).join("");
  $("result-panel").hidden = false;
  $("result-panel").dataset.edited = r.edited ? "1" : "0";
  showMetrics(r.metrics);
}

function showMetrics(metrics) {
  $("eval-table").hidden = !metrics;
  $("eval-table").querySelector("tbody").replaceChildren(...(metrics || []).map((m) => {
    const row = document.createElement("tr");
    const value = m.value === null ? `n/a: ${m.why || "not measured"}` :
      Math.abs(m.value) >= 100 ? m.value.toFixed(0) : m.value.toFixed(3);
    for (const text of [m.short, value, m.better > 0 ? "higher" : m.better < 0 ? "lower" : "", m.help]) {
      row.appendChild(Object.assign(document.createElement("td"), { textContent: text }));
    }
    row.dataset.key = m.key;
    return row;
  }));
}

async function evaluate() {
  await waitForJob(await api("POST", "/api/evaluate"));
  showMetrics((await api("GET", "/api/result")).metrics);
}

async function convert(f0) {
  showMessage("");
  const body = form();
  if (f0) body.f0 = Array.from(f0);
  await waitForJob(await api("POST", "/api/convert", body));
  await showResult();
}

async function openEditor() {
  showMessage("");
  await waitForJob(await api("POST", "/api/extract_pitch", form()));
  const data = await api("GET", "/api/pitch");
  $("editor-panel").hidden = false;
  editor.load(data);
  $("editor-info").textContent = editor.describe();
}

async function saveCsv() {
  const res = await api("POST", "/api/pitch.csv", { f0: Array.from(editor.f0) }, true);
  const name = dispositionName(res.headers.get("Content-Disposition"));
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await res.blob());
  a.download = name || "pitch.csv";
  document.body.appendChild(a);
  a.click();
  a.remove();
  showMessage(`Saved ${a.download} (open it in Excel, edit, and load it back).`, true);
}

async function loadCsv(file) {
  const r = await api("POST", `/api/load_csv?name=${encodeURIComponent(file.name)}`, file);
  editor.setF0(r.f0);
  showMessage(`Loaded ${r.name}.`, true);
}

const editor = new PitchEditor($("editor"), $("scroll"), (ed) => { $("editor-info").textContent = ed.describe(); });
window.svcEditor = editor;

function wire() {
  $("upload").addEventListener("change", guarded(async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    if (file.size > MAX_UPLOAD_MB * 2 ** 20) {
      throw new Error(`${file.name}: ${(file.size / 2 ** 20).toFixed(0)} MB is over the ${MAX_UPLOAD_MB} MB upload ` +
                      "limit. Give its path instead (svc_webui.py --audio-dir), or raise --max-upload-mb.");
    }
    showInput(await api("POST", `/api/upload?name=${encodeURIComponent(file.name)}`, file));
  }));
  $("open-path").addEventListener("click", guarded(async () => {
    showInput(await api("POST", "/api/input", { path: $("audio-path").value }));
  }));
  $("convert").addEventListener("click", guarded(() => convert(null)));
  $("fast").addEventListener("change", () => {  // svc_inference.py --fast: FCPE pitch, bf16 Whisper/HuBERT
    if ($("fast").checked) $("pitch-method").value = "fcpe";
  });
  $("open-editor").addEventListener("click", guarded(openEditor));
  $("evaluate").addEventListener("click", guarded(evaluate));
  $("convert-edited").addEventListener("click", guarded(() => convert(editor.f0)));
  $("save-csv").addEventListener("click", guarded(saveCsv));
  $("load-csv").addEventListener("change", guarded(async (e) => {
    if (e.target.files[0]) await loadCsv(e.target.files[0]);
    e.target.value = "";
  }));
  document.querySelectorAll("[data-shift]").forEach((b) =>
    b.addEventListener("click", guarded(() => editor.shiftSpan(Number(b.dataset.shift)))));
  $("snap").addEventListener("click", guarded(() => editor.snap()));
  $("unvoiced").addEventListener("click", guarded(() => editor.unvoice()));
  $("restore").addEventListener("click", guarded(() => editor.restore()));
  $("undo").addEventListener("click", () => editor.undo());
  $("redo").addEventListener("click", () => editor.redo());
  $("zoom-in").addEventListener("click", () => editor.zoom(2));
  $("zoom-out").addEventListener("click", () => editor.zoom(0.5));
  $("zoom-fit").addEventListener("click", () => editor.fit());
  document.querySelectorAll("input[name=tool]").forEach((r) =>
    r.addEventListener("change", () => { editor.tool = r.value; }));
  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || $("editor-panel").hidden) return;
    if (e.key === "z" && !e.shiftKey) { editor.undo(); e.preventDefault(); }
    if (e.key === "y" || (e.key === "z" && e.shiftKey)) { editor.redo(); e.preventDefault(); }
  });
  $("result-audio").addEventListener("timeupdate", (e) => {
    editor.playhead = e.target.currentTime * 100;   // seconds -> 10 ms frames
    editor.draw();
  });
  window.addEventListener("unhandledrejection", (e) => showMessage(String(e.reason && e.reason.message || e.reason)));
}

wire();
guarded(async () => { await openSession(); await loadOptions(); })();
