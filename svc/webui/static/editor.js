// Pitch editor: the song's spectrogram on a note axis with its F0 curve on top.
// Frames are 10 ms pitch frames; the y axis is the MIDI note (69 = A4 = 440 Hz), so moving a span
// by semitones is a vertical shift and "snap" rounds to whole notes. 0 Hz = unvoiced.
"use strict";

const hzToMidi = (hz) => 69 + 12 * Math.log2(hz / 440);
const midiToHz = (m) => 440 * Math.pow(2, (m - 69) / 12);
const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const TILE = 4096;       // spectrogram columns per offscreen canvas (browsers cap a canvas' width)
const UNDO_LIMIT = 200;

function colormap() {   // dark blue -> purple -> orange -> pale yellow, 256 entries of [r, g, b]
  const stops = [[0, [0, 0, 8]], [0.35, [60, 15, 110]], [0.65, [200, 60, 70]], [0.85, [250, 160, 50]],
                 [1, [252, 250, 190]]];
  const lut = [];
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
    const [t0, c0] = stops[k], [t1, c1] = stops[k + 1];
    const u = (t - t0) / (t1 - t0);
    lut.push(c0.map((c, j) => Math.round(c + (c1[j] - c) * u)));
  }
  return lut;
}

class PitchEditor {
  constructor(canvas, scroll, onChange) {
    this.canvas = canvas;
    this.scroll = scroll;
    this.onChange = onChange || (() => {});
    this.tool = "select";
    this.selection = null;
    this.undoStack = [];
    this.redoStack = [];
    this.f0 = null;
    this.listen();
  }

  // -- data ------------------------------------------------------------------------------
  load(data) {
    const spec = data.spectrogram;
    this.f0 = Float32Array.from(data.f0);
    this.repairs = data.repairs || [];   // spans the repair pass changed: {start, end (s), kind, text}
    this.original = Float32Array.from(data.f0);
    this.frames = this.f0.length;
    this.midiLow = spec.midi_low;
    this.midiHigh = spec.midi_low + spec.rows / spec.rows_per_semitone;
    this.tiles = this.makeTiles(spec);
    this.selection = null;
    this.undoStack = [];
    this.redoStack = [];
    this.fit();
  }

  makeTiles(spec) {   // uint8 [rows, cols] (row 0 = lowest note) -> canvases drawn top = highest note
    const bytes = Uint8Array.from(atob(spec.data), (c) => c.charCodeAt(0));
    const lut = colormap();
    const tiles = [];
    for (let start = 0; start < spec.cols; start += TILE) {
      const width = Math.min(TILE, spec.cols - start);
      const tile = document.createElement("canvas");
      tile.width = width;
      tile.height = spec.rows;
      const ctx = tile.getContext("2d");
      const image = ctx.createImageData(width, spec.rows);
      for (let r = 0; r < spec.rows; r++) {
        const src = r * spec.cols + start, dst = (spec.rows - 1 - r) * width;
        for (let c = 0; c < width; c++) {
          const rgb = lut[bytes[src + c]], p = 4 * (dst + c);
          image.data[p] = rgb[0]; image.data[p + 1] = rgb[1]; image.data[p + 2] = rgb[2]; image.data[p + 3] = 255;
        }
      }
      ctx.putImageData(image, 0, 0);
      tiles.push({ canvas: tile, start, width });
    }
    return tiles;
  }

  setF0(values) {   // a loaded CSV: one undo step
    this.pushUndo();
    this.f0 = Float32Array.from(values);
    this.changed();
  }

  // -- coordinates -------------------------------------------------------------------------
  get width() { return this.canvas.width; }
  get height() { return this.canvas.height; }
  frameToX(frame) { return (frame - this.start) / this.framesPerPixel; }
  xToFrame(x) { return this.start + x * this.framesPerPixel; }
  midiToY(m) { return this.height * (1 - (m - this.midiLow) / (this.midiHigh - this.midiLow)); }
  yToMidi(y) { return this.midiLow + (1 - y / this.height) * (this.midiHigh - this.midiLow); }
  eventPoint(e) {
    const box = this.canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * this.width / box.width, (e.clientY - box.top) * this.height / box.height];
  }
  // page coordinates of a frame and note, for tests and tools that drive the editor
  clientPoint(frame, midi) {
    const box = this.canvas.getBoundingClientRect();
    return [box.left + this.frameToX(frame) * box.width / this.width,
            box.top + this.midiToY(midi) * box.height / this.height];
  }

  // -- view --------------------------------------------------------------------------------
  resize() {
    const w = Math.max(200, Math.round(this.canvas.clientWidth || 1000));
    if (this.canvas.width !== w) this.canvas.width = w;
  }
  fit() {
    this.resize();
    this.start = 0;
    this.framesPerPixel = Math.max(this.frames, 1) / this.width;
    this.draw();
  }
  zoom(factor, x) {
    if (!this.f0) return;
    x = x === undefined ? this.width / 2 : x;
    const anchor = this.xToFrame(x);
    const maxFpp = Math.max(this.frames, 1) / this.width;
    this.framesPerPixel = Math.min(maxFpp, Math.max(0.05, this.framesPerPixel / factor));
    this.start = anchor - x * this.framesPerPixel;
    this.clampStart();
    this.draw();
  }
  scrollBy(frames) { this.start += frames; this.clampStart(); this.draw(); }
  clampStart() {
    const visible = this.width * this.framesPerPixel;
    this.start = Math.max(0, Math.min(this.start, this.frames - visible));
  }
  syncScroll() {
    const visible = this.width * this.framesPerPixel;
    this.scroll.max = String(Math.max(0, Math.ceil(this.frames - visible)));
    this.scroll.value = String(Math.round(this.start));
    this.scroll.disabled = this.frames <= visible;
  }

  // -- drawing -----------------------------------------------------------------------------
  draw() {
    if (!this.f0) return;
    const ctx = this.canvas.getContext("2d");
    const W = this.width, H = this.height;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, W, H);
    ctx.imageSmoothingEnabled = this.framesPerPixel > 1;
    const end = this.xToFrame(W);
    for (const t of this.tiles) {
      const a = Math.max(this.start, t.start), b = Math.min(end, t.start + t.width);
      if (b <= a) continue;
      ctx.drawImage(t.canvas, a - t.start, 0, b - a, t.canvas.height,
                    this.frameToX(a), 0, (b - a) / this.framesPerPixel, H);
    }
    this.drawGrid(ctx, W, H);
    for (const r of this.repairs) {   // repaired spans: an orange band along the top and bottom
      const x0 = this.frameToX(r.start * 100), x1 = this.frameToX(r.end * 100);
      ctx.fillStyle = "rgba(255, 150, 0, 0.85)";
      ctx.fillRect(x0, 14, Math.max(2, x1 - x0), 5);
      ctx.fillRect(x0, H - 5, Math.max(2, x1 - x0), 5);
      ctx.fillStyle = "rgba(255, 150, 0, 0.12)";
      ctx.fillRect(x0, 19, Math.max(2, x1 - x0), H - 24);
    }
    if (this.selection) {
      const x0 = this.frameToX(this.selection[0]), x1 = this.frameToX(this.selection[1]);
      ctx.fillStyle = "rgba(120, 200, 255, 0.22)";
      ctx.fillRect(x0, 0, x1 - x0, H);
      ctx.strokeStyle = "rgba(120, 200, 255, 0.9)";
      ctx.strokeRect(x0 + 0.5, 0.5, x1 - x0 - 1, H - 1);
    }
    if (this.playhead !== null && this.playhead !== undefined) {   // where the result player is
      const x = Math.round(this.frameToX(this.playhead)) + 0.5;
      ctx.strokeStyle = "#ffffff";
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H); ctx.stroke();
    }
    this.drawCurve(ctx, this.original, "rgba(255, 255, 255, 0.35)", 1, true);
    this.drawCurve(ctx, this.f0, "#39ff6a", 2, false);
    this.syncScroll();
  }
  drawGrid(ctx, W, H) {
    ctx.font = "10px sans-serif";
    for (let m = Math.ceil(this.midiLow); m <= this.midiHigh; m++) {
      if (m % 12 !== 0) continue;
      const y = Math.round(this.midiToY(m)) + 0.5;
      ctx.strokeStyle = "rgba(255, 255, 255, 0.25)";
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(W, y); ctx.stroke();
      ctx.fillStyle = "rgba(255, 255, 255, 0.8)";
      ctx.fillText(`C${m / 12 - 1}`, 2, y - 2);
    }
    const seconds = this.width * this.framesPerPixel / 100;
    const step = [0.1, 0.5, 1, 2, 5, 10, 30, 60].find((s) => seconds / s <= 12) || 120;
    for (let s = Math.ceil(this.start / 100 / step) * step; s * 100 <= this.xToFrame(W); s += step) {
      const x = Math.round(this.frameToX(s * 100)) + 0.5;
      ctx.strokeStyle = "rgba(255, 255, 255, 0.15)";
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H); ctx.stroke();
      ctx.fillText(`${+s.toFixed(1)} s`, x + 2, 11);
    }
  }
  drawCurve(ctx, f0, color, width, onlyWhereEdited) {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    const first = Math.max(0, Math.floor(this.start) - 1);
    const last = Math.min(this.frames - 1, Math.ceil(this.xToFrame(this.width)) + 1);
    const step = Math.max(1, Math.floor(this.framesPerPixel / 2));
    let pen = false;
    for (let i = first; i <= last; i += step) {
      const hz = f0[i];
      if (!(hz > 0) || (onlyWhereEdited && this.f0[i] === hz)) { pen = false; continue; }
      const x = this.frameToX(i + 0.5), y = this.midiToY(hzToMidi(hz));
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.stroke();
    ctx.lineWidth = 1;
  }

  // -- edits -------------------------------------------------------------------------------
  pushUndo() {
    this.undoStack.push(this.f0.slice());
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
    this.redoStack = [];
  }
  undo() { this.swap(this.undoStack, this.redoStack); }
  redo() { this.swap(this.redoStack, this.undoStack); }
  swap(from, to) {
    if (!from.length) return;
    to.push(this.f0.slice());
    this.f0 = from.pop();
    this.changed();
  }
  changed() { this.draw(); this.onChange(this); }
  span() {
    if (!this.selection) throw new Error("Select a span first: drag across the curve with the Select tool.");
    return [Math.max(0, Math.floor(this.selection[0])), Math.min(this.frames, Math.ceil(this.selection[1]))];
  }
  edit(fn) {   // fn(i) -> new Hz, over the selected frames, as one undo step
    const [a, b] = this.span();
    this.pushUndo();
    for (let i = a; i < b; i++) this.f0[i] = fn(i, this.f0[i]);
    this.changed();
  }
  shiftSpan(semitones) { const k = Math.pow(2, semitones / 12); this.edit((i, hz) => hz * k); }
  snap() { this.edit((i, hz) => (hz > 0 ? midiToHz(Math.round(hzToMidi(hz))) : 0)); }
  unvoice() { this.edit(() => 0); }
  restore() { this.edit((i) => this.original[i]); }

  // -- pointer and keys ----------------------------------------------------------------------
  listen() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => {
      if (!this.f0) return;
      c.setPointerCapture(e.pointerId);
      const [x, y] = this.eventPoint(e);
      const frame = this.clampFrame(this.xToFrame(x));
      this.drag = { anchor: frame, last: null };
      if (this.tool === "draw") { this.pushUndo(); this.paint(frame, this.yToMidi(y)); }
      else { this.selection = null; this.draw(); }
    });
    c.addEventListener("pointermove", (e) => {
      if (!this.drag) return;
      const [x, y] = this.eventPoint(e);
      const frame = this.clampFrame(this.xToFrame(x));
      if (this.tool === "draw") this.paint(frame, this.yToMidi(y));
      else { this.selection = [Math.min(this.drag.anchor, frame), Math.max(this.drag.anchor, frame)]; this.draw(); }
    });
    const up = () => {
      if (!this.drag) return;
      this.drag = null;
      if (this.selection && this.selection[1] - this.selection[0] < 1) this.selection = null;
      this.changed();
    };
    c.addEventListener("pointerup", up);
    c.addEventListener("pointercancel", up);
    c.addEventListener("wheel", (e) => {
      if (!this.f0) return;
      e.preventDefault();
      if (e.ctrlKey || e.metaKey) this.zoom(e.deltaY < 0 ? 1.25 : 0.8, this.eventPoint(e)[0]);
      else this.scrollBy((e.deltaX || e.deltaY) * this.framesPerPixel);
    }, { passive: false });
    this.scroll.addEventListener("input", () => {
      this.start = Number(this.scroll.value);
      this.clampStart();
      this.draw();
    });
    window.addEventListener("resize", () => { if (this.f0) { this.resize(); this.clampStart(); this.draw(); } });
  }
  clampFrame(frame) { return Math.max(0, Math.min(this.frames, frame)); }
  paint(frame, midi) {   // draw tool: the curve follows the pointer, filling the frames it skipped
    const hz = midiToHz(midi), i = Math.min(this.frames - 1, Math.floor(frame));
    const last = this.drag.last;
    if (last) {
      const [j, lastMidi] = last, n = Math.abs(i - j);
      for (let k = 1; k <= n; k++) {
        const f = j + Math.sign(i - j) * k;
        this.f0[f] = midiToHz(lastMidi + (midi - lastMidi) * k / n);
      }
    }
    this.f0[i] = hz;
    this.drag.last = [i, midi];
    this.draw();
  }
  describe() {
    if (!this.f0) return "";
    const edited = this.f0.reduce((n, hz, i) => n + (hz !== this.original[i] ? 1 : 0), 0);
    let text = `${(this.frames / 100).toFixed(2)} s, ${this.frames} frames; ${edited} frames edited.`;
    if (this.repairs.length) text += ` Repaired (orange): ${this.repairs.map((r) => r.text).join("; ")}.`;
    if (this.selection) {
      const [a, b] = this.span();
      const voiced = Array.from(this.f0.slice(a, b)).filter((hz) => hz > 0);
      const mean = voiced.length ? hzToMidi(voiced.reduce((s, hz) => s + hz, 0) / voiced.length) : null;
      const note = Math.round(mean);
      text += ` Span ${(a / 100).toFixed(2)}-${(b / 100).toFixed(2)} s` +
        (mean === null ? ", unvoiced." : `, around ${NOTE_NAMES[note % 12]}${Math.floor(note / 12) - 1}.`);
    }
    return text;
  }
}

window.PitchEditor = PitchEditor;
