//! Writes labelled vibration features as CSV for `scripts/train_vibration.py`: each line is
//! one window of a random machine (`label,f0..f7` with the classifier's input features).
//!
//! `cargo run --release -p strata-edge --example vibration_features -- 3000 1 > train.csv`
//! (windows per class, seed). The training set uses seed 1; the simulator's held-out
//! accuracy uses other seeds.

use strata_edge::pipelines::vibration::{
    Accelerometer, Condition, Features, Machine, Rng, Scratch, WINDOW,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let per_class: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut rng = Rng::new(seed);
    let mut scratch = Box::new(Scratch::new());
    let mut window = vec![0.0f32; WINDOW];
    println!("label,rms,kurtosis,crest,band,bpfo,bpfi,shaft,sideband");
    for i in 0..per_class {
        for condition in Condition::ALL {
            let machine = Machine::random(condition, &mut rng);
            let mut sensor = Accelerometer::new(machine, seed.wrapping_mul(1_000_003) + i as u64);
            // Skip a random part of a second so windows start anywhere in the impact train.
            let skip = (rng.uniform() * 2000.0) as usize;
            let mut discard = vec![0.0f32; skip + 1];
            sensor.fill(&mut discard);
            sensor.fill(&mut window);
            let f = Features::extract(&window, machine.shaft_hz, &machine.bearing, &mut scratch)
                .expect("window length is WINDOW");
            let x = f.to_input();
            let row: Vec<String> = x.iter().map(|v| format!("{v:.6}")).collect();
            println!("{},{}", condition as usize, row.join(","));
        }
    }
}
