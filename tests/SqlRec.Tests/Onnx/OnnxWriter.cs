using System.Runtime.InteropServices;
using System.Text;

namespace SqlRec.Tests.Onnx;

/// <summary>
/// Writes ONNX model files without any ONNX library: a protocol-buffer encoder (varints and
/// length-delimited fields) for the few messages of onnx.proto a model needs - ModelProto,
/// OperatorSetIdProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto,
/// TypeProto and TensorShapeProto - with their field numbers from onnx.proto. Tests build their
/// fixture models with it, since no pretrained ONNX weights can be downloaded here.
/// </summary>
public sealed class OnnxGraph
{
    /// <summary>TensorProto.DataType FLOAT.</summary>
    public const int Float = 1;

    /// <summary>TensorProto.DataType INT32.</summary>
    public const int Int32 = 6;

    /// <summary>TensorProto.DataType INT64.</summary>
    public const int Int64 = 7;

    private readonly List<byte[]> _nodes = [];
    private readonly List<byte[]> _initializers = [];
    private readonly List<byte[]> _inputs = [];
    private readonly List<byte[]> _outputs = [];
    private int _counter;

    /// <summary>Opset of the default domain the model imports.</summary>
    public int Opset { get; init; } = 17;

    /// <summary>A fresh tensor name with the given prefix.</summary>
    public string Fresh(string prefix) => $"{prefix}_{_counter++}";

    /// <summary>Declares a graph input; a dimension is a number or a symbolic name.</summary>
    public void Input(string name, int elementType, params object[] dims) => _inputs.Add(ValueInfo(name, elementType, dims));

    /// <summary>Declares a graph output.</summary>
    public void Output(string name, int elementType, params object[] dims) => _outputs.Add(ValueInfo(name, elementType, dims));

    /// <summary>A float initializer (weights).</summary>
    public string Weights(string name, float[] data, params long[] dims)
    {
        _initializers.Add(Tensor(name, Float, dims, MemoryMarshal.AsBytes(data.AsSpan()).ToArray()));
        return name;
    }

    /// <summary>An int64 constant initializer; no dims makes a scalar.</summary>
    public string Int64s(long[] data, params long[] dims)
    {
        var name = Fresh("const");
        _initializers.Add(Tensor(name, Int64, dims, MemoryMarshal.AsBytes(data.AsSpan()).ToArray()));
        return name;
    }

    /// <summary>A float scalar constant.</summary>
    public string Scalar(float value)
    {
        var name = Fresh("scalar");
        _initializers.Add(Tensor(name, Float, [], BitConverter.GetBytes(value)));
        return name;
    }

    /// <summary>Adds a node with one output; returns the output's name.</summary>
    public string Node(string op, string[] inputs, params (string Name, object Value)[] attributes)
    {
        var output = Fresh(op.ToLowerInvariant());
        NodeTo(op, inputs, output, attributes);
        return output;
    }

    /// <summary>Adds a node writing to a given output name.</summary>
    public void NodeTo(string op, string[] inputs, string output, params (string Name, object Value)[] attributes)
    {
        var node = new Proto();
        foreach (var input in inputs) node.String(1, input);
        node.String(2, output);
        node.String(3, Fresh("node"));
        node.String(4, op);
        foreach (var (name, value) in attributes) node.Message(5, Attribute(name, value));
        _nodes.Add(node.ToArray());
    }

    /// <summary>The serialised ModelProto.</summary>
    public byte[] ToBytes()
    {
        var graph = new Proto();
        foreach (var node in _nodes) graph.Message(1, node);
        graph.String(2, "sqlrec_fixture");
        foreach (var initializer in _initializers) graph.Message(5, initializer);
        foreach (var input in _inputs) graph.Message(11, input);
        foreach (var output in _outputs) graph.Message(12, output);
        var opset = new Proto();
        opset.String(1, "");
        opset.Varint(2, Opset);
        var model = new Proto();
        model.Varint(1, 8); // IR version 8 goes with opset 17
        model.String(2, "SqlRec.Tests");
        model.Message(7, graph.ToArray());
        model.Message(8, opset.ToArray());
        return model.ToArray();
    }

    /// <summary>Writes the model to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    private static byte[] Tensor(string name, int type, long[] dims, byte[] raw)
    {
        var tensor = new Proto();
        foreach (var dim in dims) tensor.Varint(1, dim);
        tensor.Varint(2, type);
        tensor.String(8, name);
        tensor.Bytes(9, raw);
        return tensor.ToArray();
    }

    private static byte[] ValueInfo(string name, int elementType, object[] dims)
    {
        var shape = new Proto();
        foreach (var dim in dims)
        {
            var d = new Proto();
            if (dim is string symbol) d.String(2, symbol);
            else d.Varint(1, Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture));
            shape.Message(1, d.ToArray());
        }
        var tensorType = new Proto();
        tensorType.Varint(1, elementType);
        tensorType.Message(2, shape.ToArray());
        var type = new Proto();
        type.Message(1, tensorType.ToArray());
        var info = new Proto();
        info.String(1, name);
        info.Message(2, type.ToArray());
        return info.ToArray();
    }

    private static byte[] Attribute(string name, object value)
    {
        var attribute = new Proto();
        attribute.String(1, name);
        switch (value)
        {
            case float f:
                attribute.Fixed32(2, BitConverter.SingleToInt32Bits(f));
                attribute.Varint(20, 1);
                break;
            case int or long:
                attribute.Varint(3, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                attribute.Varint(20, 2);
                break;
            case long[] ints:
                foreach (var i in ints) attribute.Varint(8, i);
                attribute.Varint(20, 7);
                break;
            default:
                throw new ArgumentException($"unsupported attribute value {value.GetType().Name}");
        }
        return attribute.ToArray();
    }

    /// <summary>A protocol-buffer message being written.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _stream = new();

        public void Varint(int field, long value)
        {
            Tag(field, 0);
            Raw((ulong)value);
        }

        public void Fixed32(int field, int value)
        {
            Tag(field, 5);
            _stream.Write(BitConverter.GetBytes(value));
        }

        public void Bytes(int field, byte[] data)
        {
            Tag(field, 2);
            Raw((ulong)data.Length);
            _stream.Write(data);
        }

        public void String(int field, string text) => Bytes(field, Encoding.UTF8.GetBytes(text));

        public void Message(int field, byte[] message) => Bytes(field, message);

        public byte[] ToArray() => _stream.ToArray();

        private void Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _stream.WriteByte((byte)value);
        }
    }
}
