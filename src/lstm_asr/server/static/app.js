// lstm-asr web page: live recognition over a WebSocket, and file upload (both with an optional word list).
"use strict";
const $ = (id) => document.getElementById(id);

fetch("/health").then((r) => r.json()).then((h) => {
  $("model").textContent = `Model: ${h.model}. Speak, and see the words appear.`;
  $("listening").textContent = `Listening for: ${h.words ? h.words.join(" ") : "any words it can spell"}`;
  if (h.units === "phones") $("words").placeholder = "any English words";
}).catch(() => {});

// the typed word list and the one-word box as query parameters ("words=...&one_word=1"), or "" for the model's own
function wordsQuery() {
  const w = $("words").value.trim();
  const q = [];
  if (w) q.push(`words=${encodeURIComponent(w)}`);
  if ($("one-word").checked) q.push("one_word=1");
  return q.join("&");
}

// ---------------------------------------------------------------- live
const live = { ws: null, ctx: null, stream: null, node: null, src: null, recording: false };

function setStatus(id, text, error) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", !!error);
}

function addFinal(text) {
  if (!text) return;
  if ($("finals").childNodes.length) $("finals").appendChild(document.createTextNode(" "));
  const span = document.createElement("span");
  span.className = "final-seg";
  span.textContent = text;
  $("finals").appendChild(span);
}

function streamUrl(rate) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const words = wordsQuery();
  return `${proto}//${location.host}/v1/stream?sample_rate=${rate}${words ? "&" + words : ""}`;
}

async function startRecording() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("live-status", "This browser gives no microphone here (it needs https or localhost).", true);
    return;
  }
  $("record").disabled = true;
  setStatus("live-status", "Asking for the microphone...");
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    setStatus("live-status", `No microphone: ${e.message || e.name}`, true);
    $("record").disabled = false;
    return;
  }
  const Ctx = window.AudioContext || window.webkitAudioContext;
  live.ctx = new Ctx();
  await live.ctx.resume();
  const rate = live.ctx.sampleRate;
  $("finals").textContent = "";
  $("partial").textContent = "";
  $("transcript").dataset.state = "recording";
  $("transcript").dataset.partials = "0";

  const ws = new WebSocket(streamUrl(rate));
  ws.binaryType = "arraybuffer";
  live.ws = ws;
  const opened = new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "partial") {
      $("partial").textContent = msg.text;
      $("transcript").dataset.partials = String(Number($("transcript").dataset.partials || 0) + 1);
    } else if (msg.type === "final") {
      $("partial").textContent = "";
      addFinal(msg.text);
    } else if (msg.type === "error") {
      setStatus("live-status", msg.error, true);
    } else if (msg.type === "end") {
      $("transcript").dataset.state = "done";
      setStatus("live-status", "Done.");
    }
  };
  ws.onclose = () => {
    if (live.stream) stopAudio();  // also when the server refused the stream (e.g. a bad word list)
    live.recording = false;
    $("record").textContent = "Start recording";
    $("record").classList.remove("recording");
    $("record").disabled = false;
    if ($("transcript").dataset.state !== "done") $("transcript").dataset.state = "closed";
  };
  try {
    await opened;
  } catch (e) {
    setStatus("live-status", "Cannot reach the server.", true);
    stopAudio();
    $("record").disabled = false;
    return;
  }

  if (ws.readyState !== WebSocket.OPEN || !live.ctx) return;  // refused right away: onclose cleaned up
  live.src = live.ctx.createMediaStreamSource(live.stream);
  const send = (buf) => { if (ws.readyState === WebSocket.OPEN) ws.send(buf); showLevel(buf); };
  if (live.ctx.audioWorklet) {
    try {
      await live.ctx.audioWorklet.addModule("/static/pcm-worklet.js");
    } catch (e) {
      if (!live.ctx) return;  // the stream was refused meanwhile and its audio context closed
      throw e;
    }
    if (ws.readyState !== WebSocket.OPEN || !live.ctx) return;
    live.node = new AudioWorkletNode(live.ctx, "pcm-capture", { channelCount: 1, channelCountMode: "explicit" });
    live.node.port.onmessage = (e) => send(e.data);
  } else {  // older browsers: ScriptProcessor
    live.node = live.ctx.createScriptProcessor(4096, 1, 1);
    live.node.onaudioprocess = (e) => {
      const x = e.inputBuffer.getChannelData(0);
      const out = new Int16Array(x.length);
      for (let i = 0; i < x.length; i++) { const s = Math.max(-1, Math.min(1, x[i])); out[i] = s < 0 ? s * 32768 : s * 32767; }
      send(out.buffer);
    };
  }
  const mute = live.ctx.createGain();
  mute.gain.value = 0;
  live.src.connect(live.node);
  live.node.connect(mute);
  mute.connect(live.ctx.destination);
  live.recording = true;
  $("record").textContent = "Stop";
  $("record").classList.add("recording");
  $("record").disabled = false;
  if (!$("live-status").classList.contains("error")) {  // keep an error the server sent meanwhile
    setStatus("live-status", `Listening (${rate} Hz)... speak, then press Stop.`);
  }
}

function showLevel(buf) {
  const x = new Int16Array(buf);
  let peak = 0;
  for (let i = 0; i < x.length; i += 8) peak = Math.max(peak, Math.abs(x[i]));
  $("level").style.width = `${Math.min(100, (peak / 32768) * 140)}%`;
}

function stopAudio() {
  if (live.node && live.node.port) live.node.port.postMessage("flush");
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  if (live.src) live.src.disconnect();
  const ctx = live.ctx;
  live.stream = live.src = live.ctx = null;
  // let the worklet's last frame arrive before closing the context
  setTimeout(() => { if (ctx) ctx.close(); }, 200);
  $("level").style.width = "0";
}

function stopRecording() {
  live.recording = false;
  $("record").disabled = true;
  setStatus("live-status", "Finishing...");
  stopAudio();
  const ws = live.ws;
  setTimeout(() => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ event: "end" })); }, 250);
}

$("record").addEventListener("click", () => (live.recording ? stopRecording() : startRecording()));

// ---------------------------------------------------------------- upload
$("upload").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  const body = new FormData();
  body.append("file", file);
  $("send").disabled = true;
  $("file-result").textContent = "";
  $("file-words").textContent = "";
  $("file-result").dataset.state = "busy";
  setStatus("file-status", `Transcribing ${file.name}...`);
  try {
    const words = wordsQuery();
    const r = await fetch(`/v1/transcribe${words ? "?" + words : ""}`, { method: "POST", body });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || r.statusText);
    $("file-result").textContent = j.text || "(no speech)";
    $("file-words").textContent = j.words.map((w) => `${w.word} ${w.start.toFixed(2)}-${w.end.toFixed(2)}s`).join(" · ");
    setStatus("file-status", `${file.name}: ${j.duration.toFixed(2)} s of audio.`);
    $("file-result").dataset.state = "done";
  } catch (e) {
    setStatus("file-status", `Error: ${e.message}`, true);
    $("file-result").dataset.state = "error";
  } finally {
    $("send").disabled = false;
  }
});
