//! Rebuilds the crate when the web app's built files change (they are embedded with
//! `include_dir!`, which does not notice added or removed files by itself).

fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
