using Microsoft.ML.OnnxRuntime;

namespace SqlRec.Embeddings;

/// <summary>
/// Where an ONNX model runs. CPU always; CUDA and DirectML only when the ONNX Runtime native
/// library the application ships was built with them (the Microsoft.ML.OnnxRuntime.Gpu and
/// Microsoft.ML.OnnxRuntime.DirectML packages). A provider that was asked for and is missing is an
/// error, never a silent fallback to the CPU: a deployment meant for a GPU should fail loudly.
/// </summary>
internal static class ExecutionProviders
{
    /// <summary>The names the <c>provider</c> option takes.</summary>
    public static readonly string[] Names = ["cpu", "cuda", "directml"];

    private static readonly Lazy<string[]> Available = new(() => OnnxRuntimeLibrary.Environment().GetAvailableProviders());

    /// <summary>ONNX Runtime's names of the providers its native library offers in this process.</summary>
    public static IReadOnlyList<string> AvailableNames => Available.Value;

    /// <summary>ONNX Runtime's name for one of <see cref="Names"/>.</summary>
    public static string OrtName(string provider) => provider switch
    {
        "cpu" => "CPUExecutionProvider",
        "cuda" => "CUDAExecutionProvider",
        "directml" => "DmlExecutionProvider",
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "unknown execution provider"),
    };

    /// <summary>True when <paramref name="provider"/> can be used here.</summary>
    public static bool IsAvailable(string provider) => AvailableNames.Contains(OrtName(provider));

    /// <summary>Adds the provider to <paramref name="options"/>, or fails when this build lacks it.</summary>
    public static void Apply(string function, string provider, int deviceId, SessionOptions options)
    {
        if (!IsAvailable(provider)) throw Errors.ProviderUnavailable(function, provider, AvailableNames);
        switch (provider)
        {
            case "cuda":
                options.AppendExecutionProvider_CUDA(deviceId);
                break;
            case "directml":
                // DirectML needs sequential execution and no memory pattern (ONNX Runtime's documented requirements).
                options.EnableMemoryPattern = false;
                options.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
                options.AppendExecutionProvider_DML(deviceId);
                break;
        }
    }
}
