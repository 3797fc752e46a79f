// AudioWorklet processor: copies each 128-sample block of the first input channel to the page
// (which resamples to 16 kHz and frames it, web/lib/pcm.ts). Outputs silence.
class PcmCapture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel && channel.length) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("pcm-capture", PcmCapture);
