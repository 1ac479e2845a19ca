// Sounds a cook tells apart without looking up: a rising chime for a new ticket, two level beeps
// for a changed one (items added or voided), a falling buzz for a cancel. Browsers play audio
// only after a tap on the page, hence `unlock` (the "Tap to start" overlay).

const SOUNDS = {
  new: { wave: "sine", gain: 0.25, notes: [[880, 0], [1320, 0.18]], length: 0.35 },
  change: { wave: "triangle", gain: 0.3, notes: [[988, 0], [988, 0.2]], length: 0.14 },
  cancel: { wave: "square", gain: 0.12, notes: [[587, 0], [392, 0.25], [262, 0.5]], length: 0.32 },
};

let audio = null;

export function unlock() {
  if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
  audio.resume();
  document.body.dataset.sound = "on";
  play("new");
}

export function play(kind) {
  // What played last, and how many times each: for tests and tools, sound or no sound.
  const body = document.body;
  body.dataset.lastSound = kind;
  body.dataset[`sounds${kind[0].toUpperCase()}${kind.slice(1)}`] = String(
    Number(body.dataset[`sounds${kind[0].toUpperCase()}${kind.slice(1)}`] || 0) + 1,
  );
  if (!audio || audio.state !== "running") return;
  const sound = SOUNDS[kind];
  for (const [frequency, offset] of sound.notes) {
    const start = audio.currentTime + offset;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = sound.wave;
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(sound.gain, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + sound.length);
    tone.connect(gain).connect(audio.destination);
    tone.start(start);
    tone.stop(start + sound.length + 0.05);
  }
}
