#!/bin/sh
# Synthesises the keyword-spotting test clips in tests/audio/: 16 kHz mono signed 16-bit WAVs of
# exactly 1 s (16,000 samples), each word trimmed of espeak's own silence, peak-normalised to
# -3 dBFS and centred. Needs Debian's espeak-ng and sox; the committed clips make the tests
# independent of both (rerun this only to change the set; sox -D -R keeps it repeatable).
#
# Usage (from crates/strata-edge): sh scripts/gen_keyword_audio.sh [OUT_DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../tests/audio"}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rate=16000
clip=16000

# word NAME VOICE TEXT: speak TEXT at 150 words/min, trim, normalise, centre in 1 s.
word() {
    espeak-ng -v "$2" -s 150 -w "$tmp/raw.wav" "$3"
    sox -D -R "$tmp/raw.wav" -r $rate -c 1 -b 16 "$tmp/trim.wav" \
        silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse gain -n -3
    n=$(soxi -s "$tmp/trim.wav")
    if [ "$n" -gt $clip ]; then
        echo "$1: $n samples, longer than 1 s" >&2
        exit 1
    fi
    before=$(((clip - n) / 2))
    after=$((clip - n - before))
    sox -D -R "$tmp/trim.wav" "$out/$1.wav" pad "${before}s" "${after}s"
}

word yes_m en-us yes
word yes_f en-us+f3 yes
word no_m en-us no
word no_f en-us+f3 no
word up en-us up
word down en-us down

# Digital silence, and white noise peaking at -11 dBFS (about -16 dBFS RMS; seeded by -R).
sox -D -R -r $rate -c 1 -n -b 16 "$out/silence.wav" trim 0 ${clip}s
sox -D -R -r $rate -c 1 -n -b 16 "$out/noise.wav" synth ${clip}s whitenoise gain -n -11

for f in "$out"/*.wav; do
    printf '%s %s samples\n' "$(basename "$f")" "$(soxi -s "$f")"
done
