//! Zero-copy model access and up-front validation.

use planus::{ReadAsRoot, Vector};

use super::error::Error;
use super::planner;
use super::schema_generated::tflite as fb;

/// Maximum tensor rank the engine handles (TFLite Micro's limit as well).
pub const MAX_RANK: usize = 6;

/// Element type of a tensor, as far as the engine supports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ElementType {
    /// Signed 8-bit quantized values (activations and weights).
    Int8,
    /// 32-bit integers (biases).
    Int32,
    /// 32-bit floats (only at the model boundary: QUANTIZE inputs, DEQUANTIZE outputs).
    Float32,
}

impl ElementType {
    /// Size of one element in bytes.
    pub const fn size(self) -> usize {
        match self {
            ElementType::Int8 => 1,
            ElementType::Int32 | ElementType::Float32 => 4,
        }
    }
}

/// A tensor shape (up to [`MAX_RANK`] dimensions), stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    dims: [i32; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[i32] {
        &self.dims[..usize::from(self.rank)]
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        usize::from(self.rank)
    }

    /// Number of elements (product of the dimensions; 1 for a scalar).
    pub fn num_elements(&self) -> usize {
        self.dims().iter().map(|&d| d.max(0) as usize).product()
    }

    /// Dimension `i`, counting from the outermost.
    pub(crate) fn dim(&self, i: usize) -> usize {
        self.dims[i].max(0) as usize
    }

    /// The last dimension (1 for a scalar).
    pub(crate) fn last(&self) -> usize {
        if self.rank == 0 {
            1
        } else {
            self.dim(usize::from(self.rank) - 1)
        }
    }
}

/// Public description of a model input or output tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorInfo {
    /// Element type.
    pub element_type: ElementType,
    /// Shape.
    pub shape: Shape,
    /// Quantization scale (first channel's for per-channel tensors; 0 if not quantized).
    pub scale: f32,
    /// Quantization zero point (0 if not quantized).
    pub zero_point: i32,
}

/// Fused activation of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    None,
    Relu,
    Relu6,
    ReluN1To1,
}

/// Padding mode of convolutions and pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    Same,
    Valid,
}

/// Operators the engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    FullyConnected,
    Conv2d,
    DepthwiseConv2d,
    AveragePool2d,
    MaxPool2d,
    Reshape,
    Softmax,
    Logistic,
    Add,
    Mul,
    Quantize,
    Dequantize,
}

/// One decoded operator: kind, tensor indices and options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpDesc {
    pub(crate) kind: OpKind,
    /// Input tensor indices (`-1` = optional input absent).
    pub(crate) inputs: [i32; 3],
    pub(crate) num_inputs: usize,
    pub(crate) output: i32,
    pub(crate) activation: Activation,
    pub(crate) padding: Padding,
    pub(crate) stride_w: i32,
    pub(crate) stride_h: i32,
    pub(crate) dilation_w: i32,
    pub(crate) dilation_h: i32,
    pub(crate) filter_w: i32,
    pub(crate) filter_h: i32,
    pub(crate) beta: f32,
}

/// One decoded tensor, borrowing quantization vectors and constant data from the model.
#[derive(Clone, Copy)]
pub(crate) struct TensorDesc<'a> {
    pub(crate) element_type: ElementType,
    pub(crate) shape: Shape,
    pub(crate) scale: f32,
    pub(crate) zero_point: i32,
    pub(crate) scales: Option<Vector<'a, f32>>,
    pub(crate) zero_points: Option<Vector<'a, i64>>,
    /// Constant data in the model buffer (`None` for activations).
    pub(crate) data: Option<&'a [u8]>,
}

impl TensorDesc<'_> {
    pub(crate) fn byte_size(&self) -> usize {
        self.shape.num_elements() * self.element_type.size()
    }

    /// Per-channel scale `i` (or the per-tensor scale).
    pub(crate) fn channel_scale(&self, i: usize) -> f32 {
        match self.scales {
            Some(v) if v.len() > 1 => v.get(i).unwrap_or(self.scale),
            _ => self.scale,
        }
    }

    pub(crate) fn num_scales(&self) -> usize {
        self.scales.map_or(0, |v| v.len())
    }
}

/// A validated, borrowed `.tflite` model.
///
/// Created with [`Model::new`], which parses the flatbuffer in place (the bytes are borrowed,
/// never copied), checks every operator, tensor type, shape and quantization parameter, and
/// plans the arena. A model that loads will run: the interpreter reports no model errors later.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    subgraph: fb::SubGraphRef<'a>,
    tensors: Vector<'a, planus::Result<fb::TensorRef<'a>>>,
    operators: Vector<'a, planus::Result<fb::OperatorRef<'a>>>,
    opcodes: Vector<'a, planus::Result<fb::OperatorCodeRef<'a>>>,
    buffers: Option<Vector<'a, planus::Result<fb::BufferRef<'a>>>>,
    activation_bytes: usize,
}

impl core::fmt::Debug for Model<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Model")
            .field("tensors", &self.tensors.len())
            .field("operators", &self.operators.len())
            .field("arena_size_required", &self.arena_size_required())
            .finish()
    }
}

fn tensor_index(i: i32, len: usize) -> Result<usize, Error> {
    if i < 0 || i as usize >= len {
        Err(Error::InvalidTensor {
            tensor: i64::from(i),
        })
    } else {
        Ok(i as usize)
    }
}

impl<'a> Model<'a> {
    /// Parses and validates a `.tflite` flatbuffer, borrowing `bytes` for the model's lifetime.
    ///
    /// # Errors
    /// Returns an error for a malformed flatbuffer, an unsupported operator, tensor type,
    /// shape or quantization, or a model with more tensors than the planner supports.
    pub fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        let model = fb::ModelRef::read_as_root(bytes)?;
        let subgraphs = model.subgraphs()?.ok_or(Error::MissingField("subgraphs"))?;
        if subgraphs.len() != 1 {
            return Err(Error::UnsupportedSubgraphCount(subgraphs.len()));
        }
        let subgraph = subgraphs.get(0).ok_or(Error::MissingField("subgraph"))??;
        let tensors = subgraph.tensors()?.ok_or(Error::MissingField("tensors"))?;
        let operators = subgraph
            .operators()?
            .ok_or(Error::MissingField("operators"))?;
        let opcodes = model
            .operator_codes()?
            .ok_or(Error::MissingField("operator codes"))?;
        let mut m = Model {
            subgraph,
            tensors,
            operators,
            opcodes,
            buffers: model.buffers()?,
            activation_bytes: 0,
        };
        m.validate()?;
        m.activation_bytes = planner::plan(&m, |_, _| {})?;
        Ok(m)
    }

    /// Bytes of arena an [`Interpreter`](super::Interpreter) for this model needs: the planned
    /// activation memory plus a 4-byte offset per tensor. Use it to size a static buffer.
    pub fn arena_size_required(&self) -> usize {
        self.activation_bytes + self.table_bytes()
    }

    pub(crate) fn activation_bytes(&self) -> usize {
        self.activation_bytes
    }

    pub(crate) fn table_bytes(&self) -> usize {
        4 * self.tensors.len()
    }

    /// Number of tensors in the subgraph.
    pub fn tensor_count(&self) -> usize {
        self.tensors.len()
    }

    /// Number of operators in the subgraph.
    pub fn operator_count(&self) -> usize {
        self.operators.len()
    }

    /// Number of model inputs.
    pub fn input_count(&self) -> usize {
        self.io_list(true).map_or(0, |v| v.len())
    }

    /// Number of model outputs.
    pub fn output_count(&self) -> usize {
        self.io_list(false).map_or(0, |v| v.len())
    }

    /// Describes model input `index`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] if there is no such input.
    pub fn input_info(&self, index: usize) -> Result<TensorInfo, Error> {
        self.info(self.io_tensor(true, index)?)
    }

    /// Describes model output `index`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] if there is no such output.
    pub fn output_info(&self, index: usize) -> Result<TensorInfo, Error> {
        self.info(self.io_tensor(false, index)?)
    }

    fn info(&self, tensor: usize) -> Result<TensorInfo, Error> {
        let t = self.tensor(tensor)?;
        Ok(TensorInfo {
            element_type: t.element_type,
            shape: t.shape,
            scale: t.scale,
            zero_point: t.zero_point,
        })
    }

    fn io_list(&self, inputs: bool) -> Option<Vector<'a, i32>> {
        let v = if inputs {
            self.subgraph.inputs()
        } else {
            self.subgraph.outputs()
        };
        v.ok().flatten()
    }

    /// Tensor index of model input/output `index`.
    pub(crate) fn io_tensor(&self, inputs: bool, index: usize) -> Result<usize, Error> {
        let list = self.io_list(inputs);
        let len = list.map_or(0, |v| v.len());
        let t = list
            .and_then(|v| v.get(index))
            .ok_or(Error::IndexOutOfRange { index, len })?;
        tensor_index(t, self.tensors.len())
    }

    pub(crate) fn tensor(&self, index: usize) -> Result<TensorDesc<'a>, Error> {
        let t = self.tensors.get(index).ok_or(Error::InvalidTensor {
            tensor: index as i64,
        })??;
        let type_ = t.type_()?;
        let element_type = match type_ {
            fb::TensorType::Int8 => ElementType::Int8,
            fb::TensorType::Int32 => ElementType::Int32,
            fb::TensorType::Float32 => ElementType::Float32,
            other => {
                return Err(Error::UnsupportedType {
                    tensor: index,
                    type_code: other as i8,
                });
            }
        };
        let mut shape = Shape {
            dims: [0; MAX_RANK],
            rank: 0,
        };
        if let Some(dims) = t.shape()? {
            if dims.len() > MAX_RANK {
                return Err(Error::Unsupported {
                    index,
                    what: "tensor rank above 6",
                });
            }
            for (i, d) in dims.iter().enumerate() {
                // A dynamic (-1) batch dimension runs as 1, as in TFLite Micro.
                shape.dims[i] = if d < 0 { 1 } else { d };
            }
            shape.rank = dims.len() as u8;
        }
        let (mut scale, mut zero_point, mut scales, mut zero_points) = (0.0, 0, None, None);
        if let Some(q) = t.quantization()? {
            scales = q.scale()?;
            zero_points = q.zero_point()?;
            scale = scales.and_then(|v| v.get(0)).unwrap_or(0.0);
            zero_point = zero_points.and_then(|v| v.get(0)).unwrap_or(0) as i32;
        }
        let buffer_index = t.buffer()? as usize;
        let mut data = None;
        if buffer_index != 0
            && let Some(buffers) = self.buffers
            && let Some(b) = buffers.get(buffer_index)
        {
            let b = b?;
            if b.offset()? > 1 {
                return Err(Error::Unsupported {
                    index,
                    what: "tensor data outside the flatbuffer (offset buffers)",
                });
            }
            data = b.data()?.filter(|d| !d.is_empty());
        }
        Ok(TensorDesc {
            element_type,
            shape,
            scale,
            zero_point,
            scales,
            zero_points,
            data,
        })
    }

    /// Decodes operator `index` (kind, tensors, options).
    pub(crate) fn op(&self, index: usize) -> Result<OpDesc, Error> {
        let op = self
            .operators
            .get(index)
            .ok_or(Error::MissingField("operator"))??;
        let code = self
            .opcodes
            .get(op.opcode_index()? as usize)
            .ok_or(Error::MissingField("operator code"))??;
        // TFLite: the effective code is max(builtin_code, deprecated_builtin_code).
        let builtin = code.builtin_code().map_or(-1, |c| c as i32);
        let deprecated = i32::from(code.deprecated_builtin_code()?);
        let code_num = builtin.max(deprecated);
        let unsupported = Error::UnsupportedOperator {
            op_index: index,
            code: code_num,
        };
        let b = fb::BuiltinOperator::try_from(code_num).map_err(|_| unsupported)?;
        let kind = match b {
            fb::BuiltinOperator::FullyConnected => OpKind::FullyConnected,
            fb::BuiltinOperator::Conv2d => OpKind::Conv2d,
            fb::BuiltinOperator::DepthwiseConv2d => OpKind::DepthwiseConv2d,
            fb::BuiltinOperator::AveragePool2d => OpKind::AveragePool2d,
            fb::BuiltinOperator::MaxPool2d => OpKind::MaxPool2d,
            fb::BuiltinOperator::Reshape => OpKind::Reshape,
            fb::BuiltinOperator::Softmax => OpKind::Softmax,
            fb::BuiltinOperator::Logistic => OpKind::Logistic,
            fb::BuiltinOperator::Add => OpKind::Add,
            fb::BuiltinOperator::Mul => OpKind::Mul,
            fb::BuiltinOperator::Quantize => OpKind::Quantize,
            fb::BuiltinOperator::Dequantize => OpKind::Dequantize,
            _ => return Err(unsupported),
        };
        let mut desc = OpDesc {
            kind,
            inputs: [-1; 3],
            num_inputs: 0,
            output: -1,
            activation: Activation::None,
            padding: Padding::Valid,
            stride_w: 1,
            stride_h: 1,
            dilation_w: 1,
            dilation_h: 1,
            filter_w: 1,
            filter_h: 1,
            beta: 1.0,
        };
        let inputs = op.inputs()?.ok_or(Error::MissingField("operator inputs"))?;
        // RESHAPE may carry its target shape as a second (constant) input; it is not needed.
        let max_inputs = match kind {
            OpKind::FullyConnected | OpKind::Conv2d | OpKind::DepthwiseConv2d => 3,
            OpKind::Add | OpKind::Mul => 2,
            _ => 1,
        };
        for (slot, t) in inputs.iter().take(max_inputs).enumerate() {
            desc.inputs[slot] = t;
            desc.num_inputs = slot + 1;
        }
        let outputs = op
            .outputs()?
            .ok_or(Error::MissingField("operator outputs"))?;
        if outputs.len() != 1 {
            return Err(Error::UnsupportedShape {
                op_index: index,
                reason: "operator must have exactly one output",
            });
        }
        desc.output = outputs.get(0).unwrap_or(-1);

        let act = |a: fb::ActivationFunctionType| -> Result<Activation, Error> {
            Ok(match a {
                fb::ActivationFunctionType::None => Activation::None,
                fb::ActivationFunctionType::Relu => Activation::Relu,
                fb::ActivationFunctionType::Relu6 => Activation::Relu6,
                fb::ActivationFunctionType::ReluN1To1 => Activation::ReluN1To1,
                _ => {
                    return Err(Error::Unsupported {
                        index,
                        what: "fused activation function",
                    });
                }
            })
        };
        let pad = |p: fb::Padding| match p {
            fb::Padding::Same => Padding::Same,
            fb::Padding::Valid => Padding::Valid,
        };
        use fb::BuiltinOptionsRef as O;
        match op.builtin_options()? {
            Some(O::FullyConnectedOptions(o)) => {
                desc.activation = act(o.fused_activation_function()?)?;
                if o.weights_format()? != fb::FullyConnectedOptionsWeightsFormat::Default {
                    return Err(Error::Unsupported {
                        index,
                        what: "shuffled fully-connected weights",
                    });
                }
            }
            Some(O::Conv2DOptions(o)) => {
                desc.activation = act(o.fused_activation_function()?)?;
                desc.padding = pad(o.padding()?);
                desc.stride_w = o.stride_w()?;
                desc.stride_h = o.stride_h()?;
                desc.dilation_w = o.dilation_w_factor()?;
                desc.dilation_h = o.dilation_h_factor()?;
            }
            Some(O::DepthwiseConv2DOptions(o)) => {
                desc.activation = act(o.fused_activation_function()?)?;
                desc.padding = pad(o.padding()?);
                desc.stride_w = o.stride_w()?;
                desc.stride_h = o.stride_h()?;
                desc.dilation_w = o.dilation_w_factor()?;
                desc.dilation_h = o.dilation_h_factor()?;
            }
            Some(O::Pool2DOptions(o)) => {
                desc.activation = act(o.fused_activation_function()?)?;
                desc.padding = pad(o.padding()?);
                desc.stride_w = o.stride_w()?;
                desc.stride_h = o.stride_h()?;
                desc.filter_w = o.filter_width()?;
                desc.filter_h = o.filter_height()?;
            }
            Some(O::SoftmaxOptions(o)) => desc.beta = o.beta()?,
            Some(O::AddOptions(o)) => desc.activation = act(o.fused_activation_function()?)?,
            Some(O::MulOptions(o)) => desc.activation = act(o.fused_activation_function()?)?,
            _ => {}
        }
        Ok(desc)
    }

    fn validate(&self) -> Result<(), Error> {
        if self.input_count() == 0 || self.output_count() == 0 {
            return Err(Error::MissingField("model inputs or outputs"));
        }
        for i in 0..self.tensors.len() {
            let t = self
                .tensors
                .get(i)
                .ok_or(Error::InvalidTensor { tensor: i as i64 })??;
            if t.is_variable()? {
                return Err(Error::Unsupported {
                    index: i,
                    what: "variable tensor",
                });
            }
            if t.sparsity()?.is_some() {
                return Err(Error::Unsupported {
                    index: i,
                    what: "sparse tensor",
                });
            }
        }
        for io in [true, false] {
            let n = if io {
                self.input_count()
            } else {
                self.output_count()
            };
            for k in 0..n {
                let t = self.tensor(self.io_tensor(io, k)?)?;
                if t.data.is_some() {
                    return Err(Error::Unsupported {
                        index: k,
                        what: "constant model input or output",
                    });
                }
            }
        }
        for i in 0..self.operators.len() {
            let op = self.op(i)?;
            super::kernels::validate(self, i, &op)?;
        }
        Ok(())
    }

    /// Checks a tensor index of an operator and returns its description.
    pub(crate) fn op_tensor(&self, index: i32) -> Result<TensorDesc<'a>, Error> {
        self.tensor(tensor_index(index, self.tensors.len())?)
    }
}
