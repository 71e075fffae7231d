//! QUANTIZE and DEQUANTIZE (TFLM `reference_ops::AffineQuantize`, `Requantize`, `Dequantize`).

use super::super::model::{ElementType, TensorDesc};
use super::super::quant::{multiply_by_quantized_multiplier, quantize_multiplier};

pub(super) fn quantize(x: &TensorDesc<'_>, o: &TensorDesc<'_>, data: &[u8], out: &mut [u8]) {
    let out: &mut [i8] = bytemuck::cast_slice_mut(out);
    match x.element_type {
        ElementType::Float32 => {
            for (d, s) in out.iter_mut().zip(data.chunks_exact(4)) {
                let v = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                let q = (libm::roundf(v / o.scale) as i32).wrapping_add(o.zero_point);
                *d = q.clamp(-128, 127) as i8;
            }
        }
        _ => {
            let input: &[i8] = bytemuck::cast_slice(data);
            let (m, s) = quantize_multiplier(f64::from(x.scale) / f64::from(o.scale));
            for (d, &v) in out.iter_mut().zip(input) {
                let q = multiply_by_quantized_multiplier(i32::from(v) - x.zero_point, m, s)
                    .wrapping_add(o.zero_point);
                *d = q.clamp(-128, 127) as i8;
            }
        }
    }
}

pub(super) fn dequantize(x: &TensorDesc<'_>, data: &[u8], out: &mut [u8]) {
    let input: &[i8] = bytemuck::cast_slice(data);
    let scale = f64::from(x.scale);
    for (d, &v) in out.chunks_exact_mut(4).zip(input) {
        let f = (scale * f64::from(i32::from(v) - x.zero_point)) as f32;
        d.copy_from_slice(&f.to_le_bytes());
    }
}
