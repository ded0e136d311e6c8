using SqlRec.Compute;

namespace SqlRec.Tests;

/// <summary>
/// LightGCN's compute kernels on every backend against plain reference loops: propagation (CSR
/// SpMM with the layer mean), BPR loss and gradient scatter, the backward pass with L2, Adam, and
/// exact top-k. "cpu" is the managed path; "ilgpu-cpu" runs the GPU kernels on ILGPU's CPU
/// accelerator (the same kernels CUDA and OpenCL run, simulated thread by thread), so the GPU
/// code is exercised on machines without a GPU. Inputs are tiny: the CPU accelerator is slow.
/// </summary>
[TestClass]
public sealed class ComputeBackendTests
{
    private static ComputeDevice Device(string name) => ComputeDevices.Machine.Resolve("test", name);

    // ---- reference implementations: plain loops, double precision --------------------------

    /// <summary>output = M * dense for a CSR matrix (rows x width).</summary>
    internal static double[] ReferenceSpmm(SparseMatrix m, double[] dense, int width)
    {
        var output = new double[m.Rows * width];
        for (var row = 0; row < m.Rows; row++)
            for (var p = m.Offsets[row]; p < m.Offsets[row + 1]; p++)
                for (var c = 0; c < width; c++) output[row * width + c] += m.Values[p] * dense[m.Indices[p] * width + c];
        return output;
    }

    /// <summary>(1/(L+1)) sum_l A^^l [users; items], one hop = users' = R~ items, items' = R~^T users.</summary>
    internal static (double[] Users, double[] Items) ReferenceSmooth(SparseMatrix graph, SparseMatrix transposed, double[] users, double[] items, int dim, int layers)
    {
        var sumUsers = (double[])users.Clone();
        var sumItems = (double[])items.Clone();
        var (currentUsers, currentItems) = (users, items);
        for (var layer = 0; layer < layers; layer++)
        {
            var nextUsers = ReferenceSpmm(graph, currentItems, dim);
            var nextItems = ReferenceSpmm(transposed, currentUsers, dim);
            for (var x = 0; x < sumUsers.Length; x++) sumUsers[x] += nextUsers[x];
            for (var x = 0; x < sumItems.Length; x++) sumItems[x] += nextItems[x];
            (currentUsers, currentItems) = (nextUsers, nextItems);
        }
        for (var x = 0; x < sumUsers.Length; x++) sumUsers[x] /= layers + 1;
        for (var x = 0; x < sumItems.Length; x++) sumItems[x] /= layers + 1;
        return (sumUsers, sumItems);
    }

    /// <summary>BPR on F plus L2 on E0 for a batch; dF scattered with a plain += per triple.</summary>
    private static (double Loss, double[] UserGrad, double[] ItemGrad) ReferenceBpr(float[] userF, float[] itemF, float[] userE0, float[] itemE0,
        int[] u, int[] p, int[] n, int dim, double l2)
    {
        var perPositive = n.Length / u.Length;
        var triples = n.Length;
        var du = new double[userF.Length];
        var di = new double[itemF.Length];
        double loss = 0;
        for (var t = 0; t < triples; t++)
        {
            int user = u[t / perPositive], positive = p[t / perPositive], negative = n[t];
            double x = 0, norms = 0;
            for (var c = 0; c < dim; c++)
            {
                x += (double)userF[user * dim + c] * itemF[positive * dim + c] - (double)userF[user * dim + c] * itemF[negative * dim + c];
                norms += (double)userE0[user * dim + c] * userE0[user * dim + c] + (double)itemE0[positive * dim + c] * itemE0[positive * dim + c]
                    + (double)itemE0[negative * dim + c] * itemE0[negative * dim + c];
            }
            loss += Math.Log(1 + Math.Exp(-x)) + 0.5 * l2 * norms;
            var g = -(1 - 1 / (1 + Math.Exp(-x))) / triples;
            for (var c = 0; c < dim; c++)
            {
                du[user * dim + c] += g * (itemF[positive * dim + c] - itemF[negative * dim + c]);
                di[positive * dim + c] += g * userF[user * dim + c];
                di[negative * dim + c] -= g * userF[user * dim + c];
            }
        }
        return (loss / triples, du, di);
    }

    // ---- fixtures ---------------------------------------------------------------------------

    private sealed class Fixture : IDisposable
    {
        public Fixture(string device, int users, int items, int dim, int layers, int seed)
        {
            Users = users;
            Items = items;
            Dim = dim;
            (Offsets, Columns) = TestData.RandomGraph(users, items, 0.3, seed);
            Trainer = new LightGcnTrainer(users, items, Offsets, Columns, dim, layers, seed, Device(device));
        }

        public int Users { get; }
        public int Items { get; }
        public int Dim { get; }
        public int[] Offsets { get; }
        public int[] Columns { get; }
        public LightGcnTrainer Trainer { get; }
        public ILightGcnBackend Backend => Trainer.Backend;

        public void Dispose() => Trainer.Dispose();
    }

    private static float[] RandomFloats(int length, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale)];
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string what)
    {
        Assert.HasCount(expected.Length, actual, what);
        for (var x = 0; x < expected.Length; x++)
            Assert.AreEqual(expected[x], actual[x], tolerance * (1 + Math.Abs(expected[x])), $"{what}[{x}]");
    }

    private static double[] ToDouble(float[] values) => [.. values.Select(v => (double)v)];

    // ---- kernels ----------------------------------------------------------------------------

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void ReplacedGraphsPropagateAsTheReference(string device)
    {
        // FREEDOM hands the backend a pruned graph each epoch and the full one back; a device
        // backend must also take a graph with more non-zeros than the one it started with.
        const int users = 12, items = 10, dim = 8, layers = 2;
        using var f = new Fixture(device, users, items, dim, layers, seed: 3);
        f.Trainer.SetInitial(RandomFloats(users * dim, 4), RandomFloats(items * dim, 5));
        foreach (var density in new[] { 0.1, 0.6, 0.3 })
        {
            var (offsets, columns) = TestData.RandomGraph(users, items, density, seed: (int)(density * 10));
            var ones = Enumerable.Repeat(1f, columns.Length).ToArray();
            var graph = new SparseMatrix(users, items, offsets, columns, ones).NormalizeSymmetric();
            var transposed = graph.Transpose();
            f.Backend.SetGraph(graph, transposed);
            f.Backend.SetE0(f.Trainer.UserE0, f.Trainer.ItemE0);
            f.Backend.Forward();
            var (gotUsers, gotItems) = (new float[users * dim], new float[items * dim]);
            f.Backend.GetFinal(gotUsers, gotItems);
            var (expectedUsers, expectedItems) = ReferenceSmooth(graph, transposed, ToDouble(f.Trainer.UserE0), ToDouble(f.Trainer.ItemE0), dim, layers);
            AssertClose(expectedUsers, gotUsers, 1e-5, $"{device} density {density} users");
            AssertClose(expectedItems, gotItems, 1e-5, $"{device} density {density} items");
        }
        Assert.ThrowsExactly<ArgumentException>(() => f.Backend.SetGraph(new SparseMatrix(users, users, new int[users + 1], [], []), new SparseMatrix(users, users, new int[users + 1], [], [])));
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void UserRowsAreReadAndTheirGradientAdded(string device)
    {
        const int users = 9, items = 7, dim = 8;
        using var f = new Fixture(device, users, items, dim, layers: 1, seed: 6);
        f.Trainer.SetInitial(RandomFloats(users * dim, 7), RandomFloats(items * dim, 8));
        var batch = new BprBatch(users, items, 3, 1);
        batch.Set([4, 1, 4], [f.Columns[f.Offsets[4]], f.Columns[f.Offsets[1]], f.Columns[f.Offsets[4]]], [f.Columns[f.Offsets[2]], f.Columns[f.Offsets[3]], f.Columns[f.Offsets[5]]]);
        f.Backend.SetE0(f.Trainer.UserE0, f.Trainer.ItemE0);
        f.Backend.ForwardForBatch(batch);
        var rows = new float[batch.UserRowCount * dim];
        f.Backend.GetUserRows(batch, rows);
        f.Backend.Forward();
        var (finalUsers, finalItems) = (new float[users * dim], new float[items * dim]);
        f.Backend.GetFinal(finalUsers, finalItems);
        CollectionAssert.AreEqual(new[] { 4, 1 }, batch.UserRows[..batch.UserRowCount]);
        CollectionAssert.AreEqual(finalUsers.AsSpan(4 * dim, dim).ToArray(), rows.AsSpan(0, dim).ToArray(), "F of the first distinct user");
        CollectionAssert.AreEqual(finalUsers.AsSpan(1 * dim, dim).ToArray(), rows.AsSpan(dim, dim).ToArray(), "F of the second");

        f.Backend.Bpr(batch, 0);
        var before = (new float[users * dim], new float[items * dim]);
        f.Backend.GetFinalGradient(before.Item1, before.Item2);
        var extra = RandomFloats(batch.UserRowCount * dim, 9);
        f.Backend.AddUserGradient(batch, extra);
        var after = (new float[users * dim], new float[items * dim]);
        f.Backend.GetFinalGradient(after.Item1, after.Item2);
        for (var x = 0; x < users * dim; x++)
        {
            var slot = x / dim == 4 ? 0 : x / dim == 1 ? 1 : -1;
            var expected = before.Item1[x] + (slot < 0 ? 0 : extra[slot * dim + x % dim]);
            Assert.AreEqual(expected, after.Item1[x], 1e-6, $"{device} dF[{x}]");
        }
        CollectionAssert.AreEqual(before.Item2, after.Item2, "item rows untouched");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void PropagationMatchesTheReference(string device)
    {
        // dim 24 covers a partial 64-wide register block and dim 72 a full one plus a remainder on the managed path.
        foreach (var (dim, layers) in new[] { (24, 0), (24, 1), (72, 2), (24, 3), (5, 2) })
        {
            using var f = new Fixture(device, users: 11, items: 9, dim, layers, seed: dim + layers);
            f.Trainer.SetInitial(RandomFloats(11 * dim, 1), RandomFloats(9 * dim, 2));
            f.Trainer.Forward();
            var (users, items) = ReferenceSmooth(f.Trainer.Graph, f.Trainer.GraphTransposed, ToDouble(f.Trainer.UserE0), ToDouble(f.Trainer.ItemE0), dim, layers);
            AssertClose(users, f.Trainer.UserFinal, 1e-5, $"{device} dim {dim} layers {layers} users");
            AssertClose(items, f.Trainer.ItemFinal, 1e-5, $"{device} dim {dim} layers {layers} items");
        }
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void TheTrainingForwardPassGivesTheFullForwardsRowsForTheBatch(string device)
    {
        const int users = 12, items = 10, dim = 16;
        foreach (var layers in new[] { 1, 3 })
        {
            using var f = new Fixture(device, users, items, dim, layers, seed: 7 + layers);
            f.Trainer.SetInitial(RandomFloats(users * dim, 1), RandomFloats(items * dim, 2));
            f.Trainer.Forward();
            var (fullUsers, fullItems) = ((float[])f.Trainer.UserFinal.Clone(), (float[])f.Trainer.ItemFinal.Clone());
            // Scramble F so that stale rows would show, then compute it for one batch only.
            f.Trainer.SetInitial(RandomFloats(users * dim, 3), RandomFloats(items * dim, 4));
            f.Trainer.Forward();
            f.Trainer.SetInitial(RandomFloats(users * dim, 1), RandomFloats(items * dim, 2));
            f.Backend.SetE0(f.Trainer.UserE0, f.Trainer.ItemE0);
            var batch = new BprBatch(users, items, capacity: 4, perPositive: 1);
            batch.Set([2, 9, 2], [1, 4, 7], [0, 0, 5]);
            f.Backend.ForwardForBatch(batch);
            var gotUsers = new float[users * dim];
            var gotItems = new float[items * dim];
            f.Backend.GetFinal(gotUsers, gotItems);
            foreach (var u in new[] { 2, 9 })
                CollectionAssert.AreEqual(fullUsers[(u * dim)..((u + 1) * dim)], gotUsers[(u * dim)..((u + 1) * dim)], $"{device} layers {layers} user {u}");
            foreach (var i in new[] { 0, 1, 4, 5, 7 })
                CollectionAssert.AreEqual(fullItems[(i * dim)..((i + 1) * dim)], gotItems[(i * dim)..((i + 1) * dim)], $"{device} layers {layers} item {i}");
        }
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void BprLossAndScatterMatchTheReference(string device)
    {
        const int users = 7, items = 8, dim = 16;
        const double l2 = 0.01;
        using var f = new Fixture(device, users, items, dim, layers: 2, seed: 3);
        f.Trainer.SetInitial(RandomFloats(users * dim, 4, 0.7f), RandomFloats(items * dim, 5, 0.7f));
        // Repeated users and items (as positives and negatives) exercise the segmented scatter.
        int[] u = [0, 3, 3, 6, 0, 2];
        int[] p = [.. u.Select((user, s) => f.Columns[f.Offsets[user] + s % (f.Offsets[user + 1] - f.Offsets[user])])];
        int[] n = [1, 2, 0, 5, 4, 4, 3, 1, 2, 1, 7, 2];
        var batch = new BprBatch(users, items, capacity: 8, perPositive: 2);
        batch.Set(u, p, n);
        f.Trainer.Forward();
        var loss = f.Backend.Bpr(batch, l2);
        var (expectedLoss, expectedUsers, expectedItems) = ReferenceBpr(f.Trainer.UserFinal, f.Trainer.ItemFinal, f.Trainer.UserE0, f.Trainer.ItemE0, u, p, n, dim, l2);
        Assert.AreEqual(expectedLoss, loss, 1e-5 * (1 + expectedLoss));
        var gotUsers = new float[users * dim];
        var gotItems = new float[items * dim];
        f.Backend.GetFinalGradient(gotUsers, gotItems);
        AssertClose(expectedUsers, gotUsers, 1e-5, "dF users");
        AssertClose(expectedItems, gotItems, 1e-5, "dF items");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void BackwardSmoothsTheGradientAddsL2AndClearsTheBatchRows(string device)
    {
        const int users = 7, items = 8, dim = 8, layers = 3;
        const double l2 = 0.3;
        using var f = new Fixture(device, users, items, dim, layers, seed: 4);
        f.Trainer.SetInitial(RandomFloats(users * dim, 6), RandomFloats(items * dim, 7));
        int[] u = [1, 1, 5];
        int[] p = [.. u.Select(user => f.Columns[f.Offsets[user]])];
        int[] n = [.. Enumerable.Range(0, 3).Select(s => Enumerable.Range(0, items).First(i => Array.BinarySearch(f.Columns, f.Offsets[u[s]], f.Offsets[u[s] + 1] - f.Offsets[u[s]], i) < 0))];
        var batch = new BprBatch(users, items, capacity: 3, perPositive: 1);
        batch.Set(u, p, n);
        f.Trainer.Forward();
        f.Backend.Bpr(batch, l2);
        var finalUsers = new float[users * dim];
        var finalItems = new float[items * dim];
        f.Backend.GetFinalGradient(finalUsers, finalItems);
        f.Backend.Backward(batch, l2);

        var (expectedUsers, expectedItems) = ReferenceSmooth(f.Trainer.Graph, f.Trainer.GraphTransposed, ToDouble(finalUsers), ToDouble(finalItems), dim, layers);
        for (var t = 0; t < 3; t++)
        {
            for (var c = 0; c < dim; c++)
            {
                expectedUsers[u[t] * dim + c] += l2 / 3 * f.Trainer.UserE0[u[t] * dim + c];
                expectedItems[p[t] * dim + c] += l2 / 3 * f.Trainer.ItemE0[p[t] * dim + c];
                expectedItems[n[t] * dim + c] += l2 / 3 * f.Trainer.ItemE0[n[t] * dim + c];
            }
        }
        var gotUsers = new float[users * dim];
        var gotItems = new float[items * dim];
        f.Backend.GetGradient(gotUsers, gotItems);
        AssertClose(expectedUsers, gotUsers, 1e-5, "dE0 users");
        AssertClose(expectedItems, gotItems, 1e-5, "dE0 items");
        f.Backend.GetFinalGradient(finalUsers, finalItems);
        Assert.IsTrue(finalUsers.All(x => x == 0) && finalItems.All(x => x == 0), "dF is zero again for the next step");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void AdamFollowsTheFormula(string device)
    {
        const int users = 5, items = 4, dim = 11;
        using var f = new Fixture(device, users, items, dim, layers: 1, seed: 5);
        var parameters = f.Trainer.UserE0.Concat(f.Trainer.ItemE0).Select(x => (double)x).ToArray();
        var m = new double[parameters.Length];
        var v = new double[parameters.Length];
        var random = new Random(8);
        const double lr = 0.01;
        for (var step = 1; step <= 3; step++)
        {
            var gradient = Enumerable.Range(0, parameters.Length).Select(_ => (float)(random.NextDouble() - 0.5) * (step == 2 ? 1e-3f : 1f)).ToArray();
            f.Backend.SetGradient(gradient.AsSpan(0, users * dim), gradient.AsSpan(users * dim));
            f.Trainer.AdamStep(lr);
            for (var x = 0; x < parameters.Length; x++)
            {
                m[x] = 0.9 * m[x] + 0.1 * gradient[x];
                v[x] = 0.999 * v[x] + 0.001 * gradient[x] * gradient[x];
                var mHat = m[x] / (1 - Math.Pow(0.9, step));
                var vHat = v[x] / (1 - Math.Pow(0.999, step));
                parameters[x] -= lr * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
            var got = f.Trainer.UserE0.Concat(f.Trainer.ItemE0).ToArray();
            for (var x = 0; x < parameters.Length; x++) Assert.AreEqual(parameters[x], got[x], 1e-6, $"{device} step {step}, parameter {x}");
        }
        Assert.AreEqual(3, f.Trainer.Steps);
    }

    [TestMethod]
    public void BatchSegmentsListEachRowsOccurrencesInOrder()
    {
        var batch = new BprBatch(users: 10, items: 10, capacity: 4, perPositive: 2);
        batch.Set([3, 7, 3], [1, 2, 2], [5, 1, 1, 9, 5, 2]);
        Assert.AreEqual(6, batch.Triples);
        CollectionAssert.AreEqual(new[] { 3, 7 }, batch.UserRows[..batch.UserRowCount]);
        CollectionAssert.AreEqual(new[] { 0, 1, 4, 5, 2, 3 }, batch.UserEntries[..6]);
        CollectionAssert.AreEqual(new[] { 0, 4, 6 }, batch.UserOffsets[..3]);
        // Items by first appearance: 1 (pos of t0), 5 (neg t0), 2 (pos t2), 9 (neg t3).
        CollectionAssert.AreEqual(new[] { 1, 5, 2, 9 }, batch.ItemRows[..batch.ItemRowCount]);
        var segments = Enumerable.Range(0, batch.ItemRowCount)
            .Select(r => batch.ItemEntries[batch.ItemOffsets[r]..batch.ItemOffsets[r + 1]]).ToArray();
        CollectionAssert.AreEqual(new[] { 0, 2, 3, 5 }, segments[0], "item 1: positive of t0, t1, negative of t1, t2");
        CollectionAssert.AreEqual(new[] { 1, 9 }, segments[1], "item 5: negative of t0, t4");
        CollectionAssert.AreEqual(new[] { 4, 6, 8, 10, 11 }, segments[2], "item 2: positive of t2..t5, negative of t5");
        CollectionAssert.AreEqual(new[] { 7 }, segments[3], "item 9: negative of t3");
        // A second batch reuses the arrays and starts from clean slots.
        batch.Set([7], [4], [0, 0]);
        CollectionAssert.AreEqual(new[] { 7 }, batch.UserRows[..batch.UserRowCount]);
        CollectionAssert.AreEqual(new[] { 4, 0 }, batch.ItemRows[..batch.ItemRowCount]);
    }

    // ---- whole training ---------------------------------------------------------------------

    [TestMethod]
    public void IlgpuTrainingFollowsTheManagedPathOnTheSameBatches()
    {
        var (offsets, columns) = TestData.RandomGraph(24, 16, 0.2, seed: 11);
        using var managed = new LightGcnTrainer(24, 16, offsets, columns, dim: 8, layers: 3, seed: 2, ComputeDevice.Managed);
        using var ilgpu = new LightGcnTrainer(24, 16, offsets, columns, dim: 8, layers: 3, seed: 2, ComputeDevice.IlgpuCpu);
        CollectionAssert.AreEqual(managed.UserE0, ilgpu.UserE0, "same initialisation");
        for (var epoch = 0; epoch < 2; epoch++)
        {
            var a = managed.Epoch(16, 2, 0.01, 1e-3, null);
            var b = ilgpu.Epoch(16, 2, 0.01, 1e-3, null);
            Assert.AreEqual(a, b, 1e-4, $"epoch {epoch} loss");
        }
        managed.Forward();
        ilgpu.Forward();
        // Same sampled batches; only float rounding differs (Adam amplifies it where gradients are tiny).
        for (var x = 0; x < managed.UserFinal.Length; x++) Assert.AreEqual(managed.UserFinal[x], ilgpu.UserFinal[x], 2e-3, $"user F[{x}]");
        for (var x = 0; x < managed.ItemFinal.Length; x++) Assert.AreEqual(managed.ItemFinal[x], ilgpu.ItemFinal[x], 2e-3, $"item F[{x}]");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void TrainingIsBitwiseDeterministicOnEachBackend(string device)
    {
        var (offsets, columns) = TestData.RandomGraph(20, 12, 0.2, seed: 9);
        float[] Run(int seed)
        {
            using var trainer = new LightGcnTrainer(20, 12, offsets, columns, dim: 8, layers: 2, seed, Device(device));
            for (var epoch = 0; epoch < 2; epoch++) trainer.Epoch(batch: 16, negativesPerPositive: 2, learningRate: 0.01, l2: 1e-4, onBatch: null);
            trainer.Forward();
            return [.. trainer.UserFinal, .. trainer.ItemFinal];
        }
        var first = Run(7);
        CollectionAssert.AreEqual(first, Run(7));
        CollectionAssert.AreNotEqual(first, Run(8));
    }

    [TestMethod]
    public void EveryKernelCompilesToPtxAndOpenCLWithoutAGpu()
    {
        // The CPU accelerator runs the kernels as .NET code; the GPU backends translate them. Compiling
        // each kernel with ILGPU's PTX and OpenCL backends (no device needed) catches constructs a GPU
        // backend cannot translate on machines that have no GPU.
        using var context = ILGPU.Context.Create(builder => ILGPU.AlgorithmContext.EnableAlgorithms(builder));
        using var ptx = new ILGPU.Backends.PTX.PTXBackend(context, ILGPU.Runtime.Cuda.CudaArchitecture.SM_70, ILGPU.Runtime.Cuda.CudaInstructionSet.ISA_70, null!);
        using var openCL = new ILGPU.Backends.OpenCL.CLBackend(context, new ILGPU.Runtime.OpenCL.CLCapabilityContext(false, false, false, false, false),
            ILGPU.Runtime.OpenCL.CLDeviceVendor.Other, ILGPU.Backends.OpenCL.CLCVersion.CL12);
        var kernels = typeof(IlgpuKernels).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(m => m.GetParameters().FirstOrDefault()?.ParameterType == typeof(ILGPU.Index1D)).ToList();
        CollectionAssert.AreEquivalent(new[] { "Hop", "MarkRows", "BprMargins", "ScatterUsers", "ScatterItems", "DecayAndClearRows", "Adam", "GatherRows", "AddRows" }, kernels.Select(k => k.Name).ToArray());
        foreach (var kernel in kernels)
        {
            var entry = ILGPU.Backends.EntryPoints.EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
            var cuda = (ILGPU.Backends.PTX.PTXCompiledKernel)ptx.Compile(entry, ILGPU.Runtime.KernelSpecialization.Empty);
            StringAssert.Contains(cuda.PTXAssembly, ".entry", $"{kernel.Name}: PTX");
            var cl = (ILGPU.Backends.OpenCL.CLCompiledKernel)openCL.Compile(entry, ILGPU.Runtime.KernelSpecialization.Empty);
            StringAssert.Contains(cl.Source, "kernel", $"{kernel.Name}: OpenCL C");
        }
    }

    [TestMethod]
    [TestCategory("GPU")]
    [DataRow("cuda")]
    [DataRow("opencl")]
    public void GpuKernelsMatchTheManagedPath(string device)
    {
        var found = device == "cuda" ? ComputeDevices.Machine.Devices.Cuda : ComputeDevices.Machine.Devices.OpenCL;
        if (found.Count == 0)
            Assert.Inconclusive($"no {device} device on this machine ({(device == "cuda" ? ComputeDevices.Machine.Devices.CudaProblem : ComputeDevices.Machine.Devices.OpenCLProblem) ?? "ILGPU found none"})");
        var (offsets, columns) = TestData.RandomGraph(200, 150, 0.05, seed: 3);
        using var managed = new LightGcnTrainer(200, 150, offsets, columns, dim: 64, layers: 3, seed: 2, ComputeDevice.Managed);
        using var gpu = new LightGcnTrainer(200, 150, offsets, columns, dim: 64, layers: 3, seed: 2, Device(device));
        managed.Forward();
        gpu.Forward();
        for (var x = 0; x < managed.UserFinal.Length; x++) Assert.AreEqual(managed.UserFinal[x], gpu.UserFinal[x], 1e-5, $"user F[{x}]");
        var a = managed.Epoch(64, 1, 0.01, 1e-4, null);
        var b = gpu.Epoch(64, 1, 0.01, 1e-4, null);
        Assert.AreEqual(a, b, 1e-4, "epoch loss");
    }
}
