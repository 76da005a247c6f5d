// A device check before the video meeting: camera preview, microphone level and a test
// sound, with every result said in words in a live region. Without JavaScript (or without
// the browser features) the panel stays hidden and the page simply shows the video button.
(function () {
  "use strict";
  var panel = document.getElementById("device-check");
  if (!panel) { return; }
  var media = navigator.mediaDevices;
  var AudioContextClass = window.AudioContext || window.webkitAudioContext;
  if (!media || !media.getUserMedia || !AudioContextClass) { return; }

  var startButton = document.getElementById("device-check-start");
  var soundButton = document.getElementById("device-check-sound");
  var preview = document.getElementById("device-preview");
  var meter = document.getElementById("device-mic-level");
  var status = document.getElementById("device-check-status");
  var stream = null;
  var audio = null;
  var heardVoice = false;

  // The words come from the page (data-say-*), in the page's language; English if absent.
  function say(key, english) {
    status.textContent = panel.getAttribute("data-say-" + key) || english;
  }

  function audioContext() {
    if (!audio) { audio = new AudioContextClass(); }
    if (audio.state === "suspended") { audio.resume(); }
    return audio;
  }

  function watchLevel(source) {
    var context = audioContext();
    var analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(source).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    function tick() {
      if (!stream) { return; }
      analyser.getByteTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i += 1) {
        peak = Math.max(peak, Math.abs(samples[i] - 128) / 128);
      }
      meter.value = Math.min(1, peak * 2);
      if (!heardVoice && peak > 0.08) {
        heardVoice = true;
        say("heard", "We can hear your microphone.");
      }
      window.requestAnimationFrame(tick);
    }
    tick();
  }

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
  }

  startButton.addEventListener("click", function () {
    say("asking", "Asking your browser for the camera and microphone…");
    media.getUserMedia({ video: true, audio: true }).then(function (found) {
      stop();
      stream = found;
      var hasVideo = found.getVideoTracks().length > 0;
      var hasAudio = found.getAudioTracks().length > 0;
      if (hasVideo) {
        preview.srcObject = found;
        preview.hidden = false;
        preview.play().catch(function () { /* the preview is a nicety */ });
      }
      if (hasAudio) {
        meter.parentNode.hidden = false;
        watchLevel(found);
      }
      say(
        (hasVideo ? "camera" : "no-camera") + "-" + (hasAudio ? "mic" : "no-mic"),
        (hasVideo ? "Your camera works: you should see yourself. " : "We did not find a camera. ") +
        (hasAudio ? "Say something: the bar moves when we hear you." : "We did not find a microphone.")
      );
    }).catch(function (error) {
      var name = error && error.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        say("refused", "Your browser did not allow the camera and microphone. Allow them in " +
            "your browser's settings, or join by telephone.");
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        say("none", "We did not find a camera or microphone. You can still join, or join by telephone.");
      } else {
        say("failed", "We could not check your camera and microphone. You can still join the meeting.");
      }
    });
  });

  soundButton.addEventListener("click", function () {
    var context = audioContext();
    var tone = context.createOscillator();
    var volume = context.createGain();
    tone.type = "sine";
    tone.frequency.value = 440;
    volume.gain.value = 0.2;
    tone.connect(volume).connect(context.destination);
    tone.start();
    tone.stop(context.currentTime + 1);
    say("sound", "Playing a test sound for one second. If you did not hear it, check your volume.");
  });

  window.addEventListener("pagehide", stop);
  panel.hidden = false;
})();
