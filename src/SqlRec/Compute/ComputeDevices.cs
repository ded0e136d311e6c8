using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace SqlRec.Compute;

/// <summary>Which ILGPU accelerator runs <see cref="IlgpuBackend"/>.</summary>
internal enum IlgpuKind
{
    /// <summary>ILGPU's CPU accelerator (the GPU kernels simulated thread by thread, for checking them without a GPU).</summary>
    Cpu,

    /// <summary>A CUDA GPU.</summary>
    Cuda,

    /// <summary>An OpenCL device.</summary>
    OpenCL,
}

/// <summary>One ILGPU device: the kind, its index among the devices of that kind, and a name for reports.</summary>
internal sealed record IlgpuDevice(IlgpuKind Kind, int Index, string Description)
{
    /// <summary>Opens a context with only this kind of accelerator (and ILGPU.Algorithms' math) and creates the accelerator.</summary>
    public (Context Context, Accelerator Accelerator) Open()
    {
        var context = Kind switch
        {
            IlgpuKind.Cuda => Context.Create(builder => builder.Cuda().EnableAlgorithms()),
            IlgpuKind.OpenCL => Context.Create(builder => builder.OpenCL().EnableAlgorithms()),
            _ => Context.Create(builder => builder.DefaultCPU().EnableAlgorithms()),
        };
        try
        {
            Accelerator accelerator = Kind switch
            {
                IlgpuKind.Cuda => context.CreateCudaAccelerator(Index),
                IlgpuKind.OpenCL => context.CreateCLAccelerator(Index),
                _ => context.CreateCPUAccelerator(0),
            };
            return (context, accelerator);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }
}

/// <summary>
/// A resolved <c>device</c> option: the managed CPU path (<see cref="Ilgpu"/> null) or an ILGPU device.
/// </summary>
/// <param name="Name">The option value it came from: <c>cpu</c>, <c>ilgpu-cpu</c>, <c>cuda</c> or <c>opencl</c> (for <c>auto</c>, what it picked).</param>
/// <param name="Ilgpu">The ILGPU device, or null for the managed path.</param>
internal sealed record ComputeDevice(string Name, IlgpuDevice? Ilgpu)
{
    /// <summary>The managed multithreaded SIMD path.</summary>
    public static ComputeDevice Managed { get; } = new("cpu", null);

    /// <summary>ILGPU's CPU accelerator.</summary>
    public static ComputeDevice IlgpuCpu { get; } = new("ilgpu-cpu", new IlgpuDevice(IlgpuKind.Cpu, 0, "ilgpu-cpu"));

    /// <summary>What runs the kernels, for reports and metrics.</summary>
    public string Description => Ilgpu?.Description ?? "cpu";

    /// <summary>
    /// Creates the backend for a graph on this device. Without a JIT (the NativeAOT loadable
    /// extension) ILGPU cannot compile kernels, and the check lets the AOT compiler leave ILGPU out.
    /// </summary>
    public ILightGcnBackend CreateBackend(SparseMatrix graph, SparseMatrix transposed, int dim, int layers, float[]? userE0 = null, float[]? itemE0 = null)
    {
        if (Ilgpu is null) return new ManagedBackend(graph, transposed, dim, layers, userE0, itemE0);
        if (!RuntimeFeature.IsDynamicCodeSupported) throw new PlatformNotSupportedException(ComputeDevices.NoJit);
        return new IlgpuBackend(Ilgpu, graph, transposed, dim, layers);
    }
}

/// <summary>
/// The <c>device</c> option of the GPU-capable model kinds. <c>cpu</c>: the managed path.
/// <c>cuda</c> / <c>opencl</c>: the first CUDA device / the first OpenCL GPU (else the first OpenCL
/// device), an error when there is none. <c>auto</c>: a CUDA GPU, else an OpenCL GPU, else the
/// managed path, which on a CPU is faster than the same kernels on ILGPU's CPU accelerator (see
/// the benchmark notes). <c>ilgpu-cpu</c>: the GPU kernels on ILGPU's CPU accelerator, for
/// checking them without a GPU; slow, never picked by <c>auto</c>.
/// </summary>
internal sealed class ComputeDevices(ComputeDevices.Probe devices)
{
    /// <summary>The values the <c>device</c> option accepts.</summary>
    public static readonly string[] Names = ["auto", "cpu", "cuda", "opencl", "ilgpu-cpu"];

    private static readonly Lazy<ComputeDevices> Found = new(() => new ComputeDevices(ProbeDevices()));

    /// <summary>The GPUs ILGPU finds (or, for tests, the ones a caller describes).</summary>
    internal sealed record Probe(IReadOnlyList<IlgpuDevice> Cuda, IReadOnlyList<IlgpuDevice> OpenCL, int OpenCLGpuCount, string? CudaProblem, string? OpenCLProblem);

    /// <summary>What ILGPU finds on this machine, probed once per process on first use.</summary>
    public static ComputeDevices Machine => Found.Value;

    /// <summary>The devices this instance resolves names against.</summary>
    public Probe Devices { get; } = devices;

    /// <summary>Why ILGPU is not there in a process without a JIT: what the loadable extension says for a GPU device.</summary>
    public const string NoJit = "the SqlRec loadable extension runs without a JIT, and ILGPU compiles its kernels with one; train on a GPU with the SqlRec .NET library or CLI and serve the same .db from the extension";

    /// <summary>Resolves an option value, or fails with <see cref="Errors.DeviceUnavailable"/> when the named device is missing.</summary>
    public ComputeDevice Resolve(string function, string name)
    {
        switch (name)
        {
            case "cpu":
                return ComputeDevice.Managed;
            case "ilgpu-cpu":
                if (!RuntimeFeature.IsDynamicCodeSupported) throw Errors.DeviceUnavailable(function, name, NoJit);
                return ComputeDevice.IlgpuCpu;
            case "cuda":
                if (Devices.Cuda.Count == 0) throw Errors.DeviceUnavailable(function, name, Devices.CudaProblem ?? "ILGPU found no CUDA device");
                return new ComputeDevice("cuda", Devices.Cuda[0]);
            case "opencl":
                if (Devices.OpenCL.Count == 0) throw Errors.DeviceUnavailable(function, name, Devices.OpenCLProblem ?? "ILGPU found no OpenCL device");
                return new ComputeDevice("opencl", Devices.OpenCL[0]);
            default:
                if (Devices.Cuda.Count > 0) return new ComputeDevice("cuda", Devices.Cuda[0]);
                if (Devices.OpenCLGpuCount > 0) return new ComputeDevice("opencl", Devices.OpenCL[0]);
                return ComputeDevice.Managed;
        }
    }

    private static Probe ProbeDevices()
    {
        if (!RuntimeFeature.IsDynamicCodeSupported) return new Probe([], [], 0, NoJit, NoJit);
        var cuda = new List<IlgpuDevice>();
        var openCL = new List<IlgpuDevice>();
        var gpus = 0;
        string? cudaProblem = null, openCLProblem = null;
        try
        {
            using var context = Context.Create(builder => builder.Cuda());
            var devices = context.GetCudaDevices();
            for (var i = 0; i < devices.Count; i++) cuda.Add(new IlgpuDevice(IlgpuKind.Cuda, i, $"cuda: {devices[i].Name}"));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            cudaProblem = $"ILGPU could not query CUDA ({e.GetType().Name}: {e.Message})";
        }
        try
        {
            using var context = Context.Create(builder => builder.OpenCL());
            var devices = new List<CLDevice>();
            foreach (var device in context.GetCLDevices()) devices.Add((CLDevice)device);
            // GPUs first, so that index 0 is a GPU whenever there is one.
            var order = Enumerable.Range(0, devices.Count).OrderBy(i => (devices[i].DeviceType & CLDeviceType.CL_DEVICE_TYPE_GPU) != 0 ? 0 : 1).ToList();
            foreach (var i in order)
            {
                var gpu = (devices[i].DeviceType & CLDeviceType.CL_DEVICE_TYPE_GPU) != 0;
                if (gpu) gpus++;
                openCL.Add(new IlgpuDevice(IlgpuKind.OpenCL, i, $"opencl: {devices[i].Name}{(gpu ? "" : " (not a GPU)")}"));
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            openCLProblem = $"ILGPU could not query OpenCL ({e.GetType().Name}: {e.Message})";
        }
        return new Probe(cuda, openCL, gpus, cudaProblem, openCLProblem);
    }
}
