using System.Buffers.Binary;
using System.Text;

namespace ConvKit.Bench.Native;

/// <summary>What <see cref="ElfVersionWeakener.Weaken"/> did to a library.</summary>
internal enum WeakenOutcome
{
    /// <summary>The flag was set and the file rewritten.</summary>
    Patched,
    /// <summary>Every matching requirement was weak already; the file is untouched.</summary>
    AlreadyWeak,
    /// <summary>The library does not ask for that version; the file is untouched.</summary>
    NotRequired,
    /// <summary>A symbol of that version is relocated, so the library really calls it: weakening would only move the failure.</summary>
    UsedByRelocation,
}

/// <summary>
/// Marks one symbol-version requirement of an ELF64 shared library as weak (<c>VER_FLG_WEAK</c> on its
/// <c>Elf64_Vernaux</c> in <c>.gnu.version_r</c>), so that the dynamic loader only warns when the
/// providing library lacks that version instead of refusing to load.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> was linked against GCC 13's libstdc++ and asks for
/// <c>GLIBCXX_3.4.32</c>, which Debian 12's libstdc++ (GCC 12) lacks. The only symbol of that version,
/// <c>std::ios_base_library_init()</c>, is referenced but never relocated (GCC 13 emits the reference to
/// pin the iostream initialiser), so the library runs correctly once the requirement is weak.
/// Before patching, this checks that no relocation names a symbol of that version; if one does the
/// file is left alone. Only the given file is changed, through a temporary copy and a rename, so a
/// hard link into the NuGet cache is never written through.
/// </remarks>
internal static class ElfVersionWeakener
{
    private const uint ShtRela = 4, ShtRel = 9, ShtDynsym = 11, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
    private const ushort VerFlagWeak = 0x2;

    private readonly record struct Section(uint Type, long Offset, long Size, uint Link, long EntrySize);

    public static WeakenOutcome Weaken(string path, string version)
    {
        byte[] elf = File.ReadAllBytes(path);
        var outcome = WeakenInMemory(elf, version, path);
        if (outcome == WeakenOutcome.Patched)
        {
            string temporary = path + ".weakening";
            File.WriteAllBytes(temporary, elf);
            File.Move(temporary, path, overwrite: true);
        }
        return outcome;
    }

    /// <summary>Sets the flag in <paramref name="elf"/> (the whole file) and says what it did.</summary>
    public static WeakenOutcome WeakenInMemory(byte[] elf, string version, string nameForErrors)
    {
        var span = elf.AsSpan();
        if (elf.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new InvalidDataException($"{nameForErrors}: not an ELF file.");
        if (span[4] != 2 || span[5] != 1)
            throw new InvalidDataException($"{nameForErrors}: only 64-bit little-endian ELF is handled (class {span[4]}, data {span[5]}).");

        long sectionTable = (long)U64(span, 0x28);
        int entrySize = U16(span, 0x3A), count = U16(span, 0x3C);
        if (sectionTable <= 0 || entrySize < 64 || sectionTable + (long)entrySize * count > elf.Length)
            throw new InvalidDataException($"{nameForErrors}: section header table ({count} × {entrySize} bytes at {sectionTable}) lies outside the file ({elf.Length} bytes).");
        var sections = new Section[count];
        for (int i = 0; i < count; i++)
        {
            var h = span.Slice((int)(sectionTable + (long)i * entrySize), entrySize);
            sections[i] = new Section(U32(h, 4), (long)U64(h, 0x18), (long)U64(h, 0x20), U32(h, 0x28), (long)U64(h, 0x38));
            if (sections[i].Type != 8 && sections[i].Offset + sections[i].Size > elf.Length)  // 8 = SHT_NOBITS
                throw new InvalidDataException($"{nameForErrors}: section {i} ({sections[i].Size} bytes at {sections[i].Offset}) lies outside the file.");
        }

        int verneedIndex = Array.FindIndex(sections, s => s.Type == ShtGnuVerneed);
        if (verneedIndex < 0) return WeakenOutcome.NotRequired;
        var verneed = sections[verneedIndex];
        var strings = sections[verneed.Link];

        // Walk Elf64_Verneed (vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32) and their
        // Elf64_Vernaux (vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32).
        var matches = new List<(long FlagsAt, ushort Index, bool Weak)>();
        long need = verneed.Offset;
        for (int guard = 0; guard < 4096; guard++)
        {
            int auxCount = U16(span, need + 2);
            long aux = need + U32(span, need + 8);
            for (int a = 0; a < auxCount; a++)
            {
                string name = CString(span, strings.Offset + U32(span, aux + 8));
                if (name == version) matches.Add((aux + 4, U16(span, aux + 6), (U16(span, aux + 4) & VerFlagWeak) != 0));
                uint nextAux = U32(span, aux + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            uint next = U32(span, need + 12);
            if (next == 0) break;
            need += next;
        }
        if (matches.Count == 0) return WeakenOutcome.NotRequired;
        if (matches.TrueForAll(m => m.Weak)) return WeakenOutcome.AlreadyWeak;

        var indices = matches.Select(m => m.Index).ToHashSet();
        if (IsRelocated(span, sections, indices)) return WeakenOutcome.UsedByRelocation;

        foreach (var m in matches)
            BinaryPrimitives.WriteUInt16LittleEndian(span[(int)m.FlagsAt..], (ushort)(U16(span, m.FlagsAt) | VerFlagWeak));
        return WeakenOutcome.Patched;
    }

    /// <summary>True when a relocation against the dynamic symbol table names a symbol whose version index is in <paramref name="versionIndices"/>.</summary>
    private static bool IsRelocated(ReadOnlySpan<byte> span, Section[] sections, HashSet<ushort> versionIndices)
    {
        int dynsymIndex = Array.FindIndex(sections, s => s.Type == ShtDynsym);
        var versym = Array.Find(sections, s => s.Type == ShtGnuVersym);
        if (dynsymIndex < 0 || versym.Size == 0) return false;
        var versioned = new HashSet<long>();
        for (long i = 0; i < versym.Size / 2; i++)
            if (versionIndices.Contains((ushort)(U16(span, versym.Offset + 2 * i) & 0x7fff))) versioned.Add(i);
        foreach (var s in sections)
        {
            if ((s.Type != ShtRela && s.Type != ShtRel) || s.Link != dynsymIndex) continue;
            long size = s.EntrySize > 0 ? s.EntrySize : (s.Type == ShtRela ? 24 : 16);
            for (long at = s.Offset; at + size <= s.Offset + s.Size; at += size)
                if (versioned.Contains((long)(U64(span, at + 8) >> 32))) return true;   // r_info: symbol index in the high 32 bits
        }
        return false;
    }

    private static ushort U16(ReadOnlySpan<byte> s, long at) => BinaryPrimitives.ReadUInt16LittleEndian(s[(int)at..]);
    private static uint U32(ReadOnlySpan<byte> s, long at) => BinaryPrimitives.ReadUInt32LittleEndian(s[(int)at..]);
    private static ulong U64(ReadOnlySpan<byte> s, long at) => BinaryPrimitives.ReadUInt64LittleEndian(s[(int)at..]);

    private static string CString(ReadOnlySpan<byte> s, long at)
    {
        var rest = s[(int)at..];
        int end = rest.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]);
    }
}
