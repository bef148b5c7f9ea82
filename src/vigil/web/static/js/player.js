// Clip player controls around a native <video>: playback speed, frame-ish stepping, keyboard
// shortcuts (space, arrows, , .) and a readable error when the clip cannot be loaded.
export function setupPlayer(video, bar, status) {
  bar.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    if (b.dataset.rate) {
      video.playbackRate = Number(b.dataset.rate);
      for (const o of bar.querySelectorAll("[data-rate]")) o.setAttribute("aria-pressed", String(o === b));
    } else if (b.dataset.step) {
      video.pause();
      video.currentTime = Math.max(0, video.currentTime + Number(b.dataset.step));
    }
  });
  video.addEventListener("keydown", (ev) => {
    if (ev.key === ",") { video.pause(); video.currentTime = Math.max(0, video.currentTime - 0.1); ev.preventDefault(); }
    if (ev.key === ".") { video.pause(); video.currentTime += 0.1; ev.preventDefault(); }
  });
  video.addEventListener("loadedmetadata", () => {
    status.textContent = Number.isFinite(video.duration) ? `${video.duration.toFixed(1)} s clip` : "";
  });
  video.addEventListener("error", () => {
    status.textContent = video.getAttribute("src") ? "The clip could not be played (missing or still being written)." : "";
  });
}
