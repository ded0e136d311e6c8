using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;

// Writes manifest resources of a .NET assembly to files, reading its metadata with
// System.Reflection.Metadata: the assembly is never loaded, so none of its code can run.
//
//   SqlRec.ResourceExtractor <assembly> [<resource>=<file>[:text]]...
//
// With no resource arguments it lists the assembly's manifest resources. ":text" writes the
// resource as UTF-8 with LF line ends and no byte-order mark. Exit code 0 on success, 1 on a
// resource the assembly lacks, 2 on bad arguments.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: SqlRec.ResourceExtractor <assembly> [<resource>=<file>[:text]]...");
    return 2;
}

using var stream = File.OpenRead(args[0]);
using var pe = new PEReader(stream);
var metadata = pe.GetMetadataReader();
var embedded = new Dictionary<string, long>(StringComparer.Ordinal);
var names = new List<string>();
foreach (var handle in metadata.ManifestResources)
{
    var resource = metadata.GetManifestResource(handle);
    var name = metadata.GetString(resource.Name);
    names.Add(name);
    // Resources that live in another file of a multi-file assembly have an implementation; only embedded ones are here.
    if (resource.Implementation.IsNil) embedded[name] = resource.Offset;
}
Console.WriteLine($"manifest resources of {Path.GetFileName(args[0])}: {string.Join(", ", names)}");

var directory = pe.PEHeaders.CorHeader?.ResourcesDirectory
    ?? throw new InvalidDataException($"{args[0]} is not a .NET assembly (no CLI header)");
foreach (var argument in args.Skip(1))
{
    var split = argument.IndexOf('=');
    if (split <= 0)
    {
        Console.Error.WriteLine($"expected <resource>=<file>[:text], got '{argument}'");
        return 2;
    }
    var resourceName = argument[..split];
    var destination = argument[(split + 1)..];
    var text = destination.EndsWith(":text", StringComparison.Ordinal);
    if (text) destination = destination[..^":text".Length];
    if (!embedded.TryGetValue(resourceName, out var offset))
    {
        Console.Error.WriteLine($"{args[0]} has no embedded resource '{resourceName}'; it has: {string.Join(", ", names)}");
        return 1;
    }
    // An embedded resource is a 4-byte little-endian length and then its bytes, at the resource
    // directory's RVA plus the resource's offset.
    var block = pe.GetSectionData(directory.RelativeVirtualAddress + checked((int)offset));
    var reader = block.GetReader();
    var length = reader.ReadInt32();
    var bytes = reader.ReadBytes(length);
    if (text)
    {
        var content = Encoding.UTF8.GetString(bytes).Replace("\r\n", "\n", StringComparison.Ordinal).TrimStart('\uFEFF');
        bytes = new UTF8Encoding(false).GetBytes(content);
    }
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
    // Written beside and renamed: another build reading the file sees the old one or the whole new one.
    var temporary = $"{destination}.{Guid.NewGuid():N}.tmp";
    File.WriteAllBytes(temporary, bytes);
    File.Move(temporary, destination, overwrite: true);
    Console.WriteLine($"{resourceName} -> {destination} ({bytes.Length:N0} bytes)");
}
return 0;
